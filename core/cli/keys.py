"""``llmplex keys``: store credentials in a file only you can read (below env and config)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from ..errors import ConfigError
from .common import EXIT_OK

__all__ = ["add_parser", "cmd_keys"]


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="store API keys in a private file (below environment and config)")
    actions = keys.add_subparsers(dest="action", metavar="ACTION")
    put = actions.add_parser("set", help="store a credential (read from the terminal without echo, or stdin)")
    put.add_argument("provider", help="the provider name, as in -m PROVIDER/model")
    put.add_argument("credential", nargs="?", default="api_key", help="which credential (default: api_key)")
    put.add_argument("--value", help="the value (visible in your shell history: prefer the prompt)")
    actions.add_parser("list", help="which credentials are stored (names only, never values)")
    actions.add_parser("path", help="where the keys file is")


def cmd_keys(args: argparse.Namespace, out: TextIO) -> int:
    from ..client.keys import keys_path, read_keys, write_key

    action = args.action or "list"
    if action == "path":
        out.write(f"{keys_path()}\n")
    elif action == "list":
        stored = read_keys()
        for provider in sorted(stored):
            out.write(f"{provider}: {', '.join(sorted(stored[provider]))}\n")
        if not stored:
            out.write(f"(no keys stored in {keys_path()})\n")
    else:
        value = args.value
        if value is None:
            if sys.stdin.isatty():
                value = getpass.getpass(f"{args.provider} {args.credential}: ")
            else:
                value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise ConfigError("keys set: an empty value; nothing stored", field="value")
        path = write_key(args.provider, args.credential, value)
        out.write(f"stored {args.provider} {args.credential} in {path}\n")
    return EXIT_OK
