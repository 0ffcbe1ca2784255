"""What the caller may put where llmplex forwards values untouched (``extra``, tool schemas,
tool-call arguments): plain JSON, so that the wire body is valid JSON on every vendor.

Refused, each with the path of the bad value: objects JSON has no type for (bytes, sets,
datetimes, custom classes), non-string keys, NaN and infinities (``json.dumps`` would write the
invalid tokens ``NaN``/``Infinity``), integers with more digits than Python prints, strings
with lone surrogates (they cannot be encoded as UTF-8), circular structures, and nesting deeper
than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Set

from .invalid import FieldValueError

__all__ = ["MAX_DEPTH", "check_json", "check_text"]

#: How deeply lists and dicts may nest in a forwarded value (JSON Schemas of real tools stay
#: far below; the recursion limit of JSON encoders and decoders lies near 1000).
MAX_DEPTH = 100
# Python refuses to print ints beyond 4300 digits (3.11+): json.dumps would raise.
_MAX_INT_BITS = 14_000


def check_text(value: str, path: str) -> None:
    """Refuse a string that cannot be encoded as UTF-8 (a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FieldValueError(
            path,
            f"the text has a lone surrogate at position {exc.start} (\\u{ord(value[exc.start]):04x}), "
            "which cannot be sent as UTF-8; decode the source text with errors='replace'",
        ) from None


def check_json(value: Any, path: str) -> None:
    """Raise FieldValueError naming the first place in ``value`` that is not plain JSON."""
    _check(value, path, 0, set())


def _at(path: str, key: str) -> str:
    if key.isidentifier():
        return f"{path}.{key}" if path else key
    return f"{path}[{key!r}]"


def _check(value: Any, path: str, depth: int, active: Set[int]) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(value, path)
        return
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            raise FieldValueError(path, "the integer has too many digits for JSON; send it as a string")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FieldValueError(path, f"{value} is not a JSON number; use a finite number or null")
        return
    if not isinstance(value, (dict, list, tuple)):
        raise FieldValueError(path, f"{_kind(value)} is not a JSON value; convert it to a string, number, list or dict")
    if depth >= MAX_DEPTH:
        raise FieldValueError(path, f"nested deeper than {MAX_DEPTH} levels; flatten the structure")
    marker = id(value)
    if marker in active:
        raise FieldValueError(path, "the structure contains itself (a circular reference); pass a copy without the loop")
    active.add(marker)
    try:
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise FieldValueError(
                        path, f"has a key of type {type(key).__name__}; JSON object keys must be strings"
                    )
                check_text(key, path)
                _check(item, _at(path, key), depth + 1, active)
        else:
            for index, item in enumerate(value):
                _check(item, f"{path}[{index}]", depth + 1, active)
    finally:
        active.discard(marker)


def _kind(value: Any) -> str:
    name: Optional[str] = getattr(type(value), "__name__", None)
    return f"a value of type {name}" if name else "this value"
