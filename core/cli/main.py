"""The ``llmplex`` command: a dispatcher over the modules of ``llmplex.cli``.

Exit codes: 0 success, 1 the vendor or the network failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, Optional, Sequence, TextIO

from .common import EXIT_CALL_FAILED, EXIT_OK, EXIT_USAGE, call_arguments

__all__ = ["main", "EXIT_OK", "EXIT_CALL_FAILED", "EXIT_USAGE"]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llmplex")
    except Exception:  # noqa: BLE001 - running from a source tree
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmplex", description="Talk to any LLM vendor through one schema.")
    parser.add_argument("--version", action="version", version=f"llmplex {_version()}")
    parser.add_argument("--config", help="path to a llmplex.toml (default: $LLMPLEX_CONFIG, ./llmplex.toml, user dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    prompt = sub.add_parser("prompt", help="send a prompt and stream the answer")
    call_arguments(prompt)
    prompt.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    prompt.add_argument("--json", action="store_true", help="print the whole response as JSON")
    prompt.add_argument("-a", "--attach", action="append", metavar="PATH_OR_URL", help="an image (file or URL)")
    prompt.add_argument("-T", "--tools", metavar="FILE.py", help="offer the functions of a Python file as tools")
    prompt.add_argument("--schema", help="a JSON schema (inline or a file): print a validated JSON answer")

    chat = sub.add_parser("chat", help="an interactive conversation (/help inside)")
    call_arguments(chat, text=False)
    from .chat import add_arguments

    add_arguments(chat)

    request = sub.add_parser("request", help="print the prepared wire request (secrets masked); nothing is sent")
    call_arguments(request)
    request.add_argument("--stream", action="store_true", help="prepare the streaming variant")
    request.add_argument("--at", type=float, help="sign as of this Unix time (reproducible signatures)")

    from .keys import add_parser as add_keys
    from .logs import add_parser as add_logs
    from .models import add_parser as add_models

    add_logs(sub)
    add_models(sub)
    add_keys(sub)

    from .batch import add_parser as add_batch

    add_batch(sub)

    sub.add_parser("providers", help="list installed providers and where they come from")

    demo = sub.add_parser("demo", help="run a recorded conversation through real client code; no keys, no network")
    demo.add_argument("--quiet", action="store_true", help="print only the answers")
    return parser


def _cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.client import Client
    from .chat import run_chat
    from .common import attach_log, call_params

    client = Client(args.config)
    log = attach_log(client, args)
    try:
        return run_chat(args, client, log, call_params(args))
    finally:
        if log is not None:
            log.disable()


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


def _commands() -> Dict[str, Callable[[argparse.Namespace, TextIO], int]]:
    from .batch import cmd_batch
    from .keys import cmd_keys
    from .logs import cmd_logs
    from .models import cmd_models
    from .prompt import cmd_prompt, cmd_request

    return {"prompt": cmd_prompt, "request": cmd_request, "chat": _cmd_chat, "logs": cmd_logs,
            "models": cmd_models, "keys": cmd_keys, "providers": _cmd_providers, "demo": _cmd_demo,
            "batch": cmd_batch}


def main(argv: Optional[Sequence[str]] = None, out: Optional[TextIO] = None) -> int:
    out = out or sys.stdout
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, a usage error 2
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_USAGE
    from ..errors import ConfigError, InvalidRequestError, LLMError

    try:
        return _commands()[args.command](args, out)
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
