"""Text forms of what the command prints."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["format_wire"]


def format_wire(wire: Any) -> str:
    """A prepared request as text: method, URL, headers, pretty JSON body."""
    lines = [f"{wire.method} {wire.url}"]
    lines += [f"{name}: {value}" for name, value in wire.headers.items()]
    if wire.body is not None:
        try:
            body = json.dumps(json.loads(wire.body), ensure_ascii=False, indent=2)
        except ValueError:
            body = wire.body.decode("utf-8", "replace")
        lines += ["", body]
    return "\n".join(lines)
