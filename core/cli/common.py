"""What several commands share: exit codes, ``-o`` values, the default model, the call log."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..calllog.plugin import CallLogPlugin
    from ..client.client import Client
    from ..schema.response import Usage

__all__ = ["EXIT_OK", "EXIT_CALL_FAILED", "EXIT_USAGE", "option_value", "options", "pick_model", "attach_log",
           "usage_line", "DEFAULT_ALIAS"]

EXIT_OK = 0
EXIT_CALL_FAILED = 1
EXIT_USAGE = 2

#: The ``[models]`` alias used when ``-m`` is absent.
DEFAULT_ALIAS = "default"


def option_value(text: str) -> Any:
    """``-o KEY VALUE``'s value, typed: JSON (numbers, ``true``/``false``, ``null``, lists,
    objects), ``True``/``False`` as booleans, anything else the string itself."""
    if text in ("True", "False"):
        return text == "True"
    try:
        return json.loads(text)
    except ValueError:
        return text


def options(pairs: Optional[Sequence[Sequence[str]]]) -> Dict[str, Any]:
    return {key.replace("-", "_"): option_value(value) for key, value in pairs or ()}


def pick_model(client: Client, model: Optional[str]) -> str:
    """``-m`` if given, else the ``[models] default`` alias; a ConfigError if neither."""
    if model:
        return model
    if DEFAULT_ALIAS in client.config.models:
        return DEFAULT_ALIAS
    raise ConfigError(
        "no model: pass -m provider/model, or set a default in the config: [models] default = \"provider/model\"",
        field="model",
    )


def attach_log(client: Client, args: argparse.Namespace) -> Optional[CallLogPlugin]:
    """The call log plugin on ``client`` unless ``--no-log``."""
    if getattr(args, "no_log", False):
        return None
    from ..calllog.plugin import enable

    return enable(client)


def usage_line(usage: Optional[Usage]) -> str:
    if usage is None:
        return "Token usage: unknown (the vendor sent none)"
    return (f"Token usage: {usage.prompt_tokens} input, {usage.completion_tokens} output, "
            f"{usage.total_tokens} total")


def warn(text: str) -> None:
    sys.stderr.write(f"llmplex: {text}\n")


def call_arguments(parser: argparse.ArgumentParser, *, text: bool = True) -> None:
    """Arguments of commands that make calls: model, system prompt, parameters, log."""
    if text:
        parser.add_argument("text", nargs="?", help="the user message ('-' or absent reads standard input)")
    parser.add_argument("-m", "--model", help="provider/model or an alias from [models] (default: [models] default)")
    parser.add_argument("-s", "--system", help="a system prompt")
    parser.add_argument("-o", "--option", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        help="a request parameter, typed as JSON: -o temperature 0.2 -o stop '[\"\\n\"]'")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("-u", "--usage", action="store_true", help="print token usage on standard error")
    parser.add_argument("--no-log", action="store_true", help="do not write this call to the call log")


def call_params(args: argparse.Namespace) -> Dict[str, Any]:
    params = {k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens)) if v is not None}
    params.update(options(args.option))
    return params


def messages_of(args: argparse.Namespace, parts: Optional[List[Any]] = None) -> List[Dict[str, Any]]:
    text = args.text
    if text is None or text == "-":
        text = sys.stdin.read()
    messages: List[Dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    content: Any = text
    if parts:
        from ..schema.messages import TextPart

        content = [TextPart(text=text), *parts]
    messages.append({"role": "user", "content": content})
    return messages
