"""``llmplex logs``: list, show, search and export the call log; list conversations; its path."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Dict, TextIO

from ..errors import ConfigError
from .common import EXIT_OK

__all__ = ["add_parser", "cmd_logs"]


def add_parser(sub: Any) -> None:
    logs = sub.add_parser("logs", help="the call log: list, show, search, export, conversations, path")
    actions = logs.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="the latest calls (the default action)")
    listing.add_argument("-n", "--count", type=int, default=20, help="how many (0: all)")
    listing.add_argument("-q", "--query", help="only calls whose request, answer or error contains this text")
    listing.add_argument("--cid", help="only the calls of this conversation")
    show = actions.add_parser("show", help="one call in full, as JSON")
    show.add_argument("id", type=int)
    export = actions.add_parser("export", help="calls as JSON (one array), oldest first")
    export.add_argument("-q", "--query")
    export.add_argument("--cid")
    convs = actions.add_parser("conversations", help="saved conversations (resume one with llmplex chat --cid ID)")
    convs.add_argument("-n", "--count", type=int, default=20)
    conv = actions.add_parser("conversation", help="one saved conversation, as JSON")
    conv.add_argument("id")
    actions.add_parser("path", help="where the call log is")


def _store() -> Any:
    from ..calllog.paths import log_path
    from ..calllog.store import CallLog

    return CallLog(log_path())


def _decoded(row: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(row)
    for key in ("request", "response", "chain", "fallbacks"):
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except ValueError:
                pass  # a body that is not JSON (or was cut) stays text
    return out


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _one_line(row: Dict[str, Any]) -> str:
    what = row["text"] if row["status"] == "ok" else f"{row['error_type']}: {row['error']}"
    what = " ".join(str(what or "").split())
    if len(what) > 60:
        what = what[:57] + "..."
    tokens = f"{row['total_tokens']} tok" if row.get("total_tokens") is not None else "- tok"
    latency = f"{row['latency_ms']:.0f} ms" if row.get("latency_ms") is not None else "- ms"
    return (f"{row['id']:>5}  {_when(row['ts'])}  {row['status']:<5}  {row['provider']}/{row['model']}  "
            f"{latency}  {tokens}  {what}")


def cmd_logs(args: argparse.Namespace, out: TextIO) -> int:
    action = args.action or "list"
    if action == "path":
        from ..calllog.paths import log_path

        out.write(f"{log_path()}\n")
        return EXIT_OK
    store = _store()
    if action == "list":
        count = getattr(args, "count", 20)
        rows = store.calls(limit=count or None, search=getattr(args, "query", None), conversation=getattr(args, "cid", None))
        for row in reversed(rows):
            out.write(_one_line(row) + "\n")
        if not rows:
            out.write("(no calls logged)\n")
    elif action == "show":
        row = store.call(args.id)
        if row is None:
            raise ConfigError(f"no call {args.id} in the call log; llmplex logs list shows the ids", field="id")
        out.write(json.dumps(_decoded(row), ensure_ascii=False, indent=2) + "\n")
    elif action == "export":
        rows = store.calls(limit=None, search=args.query, conversation=args.cid, newest_first=False)
        out.write(json.dumps([_decoded(r) for r in rows], ensure_ascii=False, indent=2) + "\n")
    elif action == "conversations":
        for row in store.conversations(limit=args.count or None):
            out.write(f"{row['id']}  {_when(row['updated'])}  {row['model']}  {row['title'] or ''}\n")
    elif action == "conversation":
        data = store.conversation(args.id)
        if data is None:
            raise ConfigError(f"no conversation {args.id!r} in the call log", field="id")
        out.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return EXIT_OK
