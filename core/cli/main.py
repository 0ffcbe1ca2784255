"""The ``llmplex`` command: prompt, providers, request, demo.

Exit codes: 0 success, 1 the vendor or the network failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

from .format import format_wire

__all__ = ["main"]

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmplex", description="Talk to any LLM vendor through one schema.")
    parser.add_argument("--config", help="path to a llmplex.toml (default: $LLMPLEX_CONFIG, ./llmplex.toml, user dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    prompt = sub.add_parser("prompt", help="send a prompt and stream the answer")
    _call_arguments(prompt)
    prompt.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    prompt.add_argument("--json", action="store_true", help="print the whole response as JSON")

    request = sub.add_parser("request", help="print the prepared wire request (secrets masked); nothing is sent")
    _call_arguments(request)
    request.add_argument("--stream", action="store_true", help="prepare the streaming variant")
    request.add_argument("--at", type=float, help="sign as of this Unix time (reproducible signatures)")

    sub.add_parser("providers", help="list installed providers and where they come from")

    demo = sub.add_parser("demo", help="run a recorded conversation through real client code; no keys, no network")
    demo.add_argument("--quiet", action="store_true", help="print only the answers")
    return parser


def _call_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the user message ('-' reads standard input)")
    parser.add_argument("-m", "--model", required=True, help="provider/model or an alias from [models]")
    parser.add_argument("--system", help="a system prompt")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)


def _messages(args: argparse.Namespace) -> List[Dict[str, Any]]:
    text = sys.stdin.read() if args.text == "-" else args.text
    messages: List[Dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": text})
    return messages


def _params(args: argparse.Namespace) -> Dict[str, Any]:
    return {k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens)) if v is not None}


def _cmd_prompt(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client

    client = Client(args.config)
    messages = _messages(args)
    if args.no_stream or args.json:
        reply = client.chat(args.model, messages, **_params(args))
        if args.json:
            out.write(reply.model_dump_json(indent=2, exclude={"raw"}) + "\n")
        else:
            out.write(reply.text + "\n")
        return EXIT_OK
    for chunk in client.stream(args.model, messages, **_params(args)):
        out.write(chunk.text)
        out.flush()
    out.write("\n")
    return EXIT_OK


def _cmd_request(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client
    from ..clock import FixedClock

    client = Client(args.config, clock=FixedClock(args.at) if args.at is not None else None)
    wire = client.prepare(args.model, _messages(args), stream=args.stream, **_params(args))
    out.write(format_wire(client.redacted(wire)) + "\n")
    for warning in wire.warnings:
        # Beside the request, not in it: stdout stays exactly the request.
        sys.stderr.write(f"llmplex: warning: {warning}\n")
    return EXIT_OK


def _cmd_providers(args: argparse.Namespace, out: TextIO) -> int:
    from ..plugins.manager import default_plugins

    plugins = default_plugins()
    rows = [
        (name, f"{entry.distribution} {entry.version}", entry.spec.description)
        for name, entry in sorted(plugins.providers.items())
    ]
    width = max((len(r[0]) for r in rows), default=8)
    dist_width = max((len(r[1]) for r in rows), default=8)
    for name, dist, description in rows:
        out.write(f"{name.ljust(width)}  {dist.ljust(dist_width)}  {description}\n")
    for name, error in sorted(plugins.failed.items()):
        out.write(f"{name.ljust(width)}  FAILED TO LOAD: {error}\n")
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from .demo import run_demo

    return run_demo(out, verbose=not args.quiet)


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    from ..errors import ConfigError, InvalidRequestError, LLMError

    commands = {"prompt": _cmd_prompt, "request": _cmd_request, "providers": _cmd_providers, "demo": _cmd_demo}
    try:
        return commands[args.command](args, out)
    except (ConfigError, InvalidRequestError) as exc:
        # A vendor's 400 is also InvalidRequestError; it has a status, a local mistake has none.
        sys.stderr.write(f"llmplex: error: {exc}\n")
        return EXIT_CALL_FAILED if getattr(exc, "status", None) else EXIT_USAGE
    except LLMError as exc:
        sys.stderr.write(f"llmplex: {type(exc).__name__}: {exc}\n")
        return EXIT_CALL_FAILED
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
