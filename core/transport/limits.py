"""Size limits: how much of a vendor's reply llmplex holds in memory at once.

Memory is bounded by these limits, never by what a vendor sends. A provider's config table may
set any of them (``[providers.X] limits = {max_event = 33554432}``); unset ones keep the
transport's defaults.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional, Sequence, Tuple

from ..errors import ConfigError

__all__ = [
    "Limits",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_EVENT",
    "DEFAULT_MAX_FRAME",
    "MAX_STRAY",
]

#: A non-streamed reply larger than this is refused: no chat reply is this big, a misrouted
#: download may be. Streams are not limited in total (a long stream is fine).
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: One line of an SSE or NDJSON stream (a base64 image in one ``data:`` line fits).
DEFAULT_MAX_LINE = 8 * 1024 * 1024
#: One SSE event: all of its ``data:`` lines together.
DEFAULT_MAX_EVENT = 16 * 1024 * 1024
#: One WebSocket message (``websockets``' own default, 1 MiB, is smaller than some image frames).
DEFAULT_MAX_FRAME = 16 * 1024 * 1024
#: How much of the latest non-SSE lines of a stream is kept for a vendor parser to inspect.
MAX_STRAY = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """Byte limits; ``None`` means the transport's default (the ``DEFAULT_*`` constants)."""

    max_body: Optional[int] = None
    max_line: Optional[int] = None
    max_event: Optional[int] = None
    max_frame: Optional[int] = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"limit {item.name} must be a positive number of bytes, got {value!r}",
                                  field=item.name)

    @property
    def line(self) -> int:
        return self.max_line or DEFAULT_MAX_LINE

    @property
    def event(self) -> int:
        return self.max_event or DEFAULT_MAX_EVENT

    @classmethod
    def from_config(cls, table: Any, where: str) -> Limits:
        """A ``limits`` table from a config file; ``where`` is its path (``providers.x.limits``)."""
        if isinstance(table, Limits):
            return table
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"{where} must be a table such as {{max_body = 67108864, max_event = 16777216}}, got {table!r}",
                field=where,
            )
        known = [item.name for item in fields(cls)]
        values = {}
        for key, value in table.items():
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(f"unknown key {key!r} in {where}; {hint}known: {', '.join(known)}",
                                  field=f"{where}.{key}")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{where}.{key} must be a positive number of bytes, got {value!r}",
                                  field=f"{where}.{key}")
            values[key] = value
        return cls(**values)

    @classmethod
    def layered(cls, layers: Sequence[Tuple[Any, str]]) -> Optional[Limits]:
        """``(table, where)`` layers merged key by key, later ones winning (a provider's spec,
        then ``[defaults]``, then the provider's table); None when no layer sets anything."""
        merged = {}
        found = False
        for table, where in layers:
            if table is None:
                continue
            found = True
            limits = cls.from_config(table, where)
            merged.update({item.name: getattr(limits, item.name) for item in fields(limits)
                           if getattr(limits, item.name) is not None})
        return cls(**merged) if found else None
