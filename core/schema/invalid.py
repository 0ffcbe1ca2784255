"""How a validation failure becomes the caller's ``InvalidRequestError``, for call-time checks and
for the public models' constructors alike.

Every message has the shape ``"<field>: <what is wrong>; <how to fix>"`` and ``.field`` names the
place in ``messages[2].role`` form. The caller's values are never echoed whole (they may hold
secrets or megabytes of image data).
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Sequence

from pydantic import ValidationError

from ..errors import InvalidRequestError

__all__ = ["ROLES", "FieldValueError", "from_validation_error", "within", "location", "join"]

ROLES = ("system", "user", "assistant", "tool")

#: Roles other APIs use, and the llmplex role to use instead.
_ROLE_WORD = re.compile(r"^[A-Za-z_-]{1,24}$")
_ROLE_HINTS = {"developer": "system", "function": "tool", "model": "assistant", "human": "user", "ai": "assistant"}


class FieldValueError(ValueError):
    """A ValueError that knows which field (``content[0].image_url``) it is about.

    Raised inside validators, pydantic keeps it as ``ctx["error"]`` of the ValidationError, so
    the field is named exactly without parsing messages.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.reason = message


def _is_branch_tag(item: str) -> bool:
    # pydantic adds union branch and validator names to locations ('str', 'TextPart',
    # 'list[union[...]]', 'function-after[...]'): none of them is a field of the caller's.
    return not item.isidentifier() or item[:1].isupper() or item in ("str", "int", "float", "bool", "list", "dict")


def location(prefix: str, loc: Sequence[Any]) -> str:
    out = prefix
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif isinstance(item, str) and _is_branch_tag(item):
            continue
        else:
            out += f".{item}" if out else str(item)
    return out


def join(prefix: str, path: str) -> str:
    if not path:
        return prefix
    if not prefix:
        return path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _invalid(field: str, reason: str) -> InvalidRequestError:
    error = InvalidRequestError(f"{field}: {reason}" if field else reason, field=field or None)
    error.reason = reason  # type: ignore[attr-defined]  # what ``within`` re-prefixes
    # Raised by the schema itself: built from a vendor's reply, this is the vendor's fault
    # (``llmplex.provider.wire.vendor_fault``).
    error.from_schema = True  # type: ignore[attr-defined]
    return error


def within(prefix: str, error: InvalidRequestError) -> InvalidRequestError:
    """``error`` (raised by a model about its own field) as seen from ``prefix``
    (``messages[2]``): the same reason, the field joined."""
    reason = getattr(error, "reason", None)
    if not isinstance(reason, str):
        old = error.field or ""
        reason = error.message[len(old) + 2 :] if old and error.message.startswith(old + ": ") else error.message
    return _invalid(join(prefix, error.field or ""), reason)


def from_validation_error(prefix: str, error: ValidationError, data: Any) -> InvalidRequestError:
    """The first problem pydantic found, worded for the caller, under ``prefix``."""
    first = _most_telling(error.errors(include_input=False))
    loc = tuple(first.get("loc", ()))
    kind = first.get("type", "")
    inner = first.get("ctx", {}).get("error")
    if isinstance(inner, FieldValueError):
        named = [p for p in loc if isinstance(p, str) and not _is_branch_tag(p)]
        path = inner.path
        if named and (path == named[-1] or path.startswith(named[-1] + ".")):
            path = path[len(named[-1]) :].lstrip(".")  # a field validator that named its own field
        return _invalid(join(location(prefix, loc), path), inner.reason)
    if isinstance(inner, InvalidRequestError):  # a nested model's constructor, called by a validator
        return within(location(prefix, loc), inner)
    field = location(prefix, loc)
    if loc == ("role",) and (isinstance(data, Mapping) or kind == "missing"):
        if kind == "missing" or not isinstance(data, Mapping) or "role" not in data:
            return _invalid(field, f"missing; every message needs a role, one of {', '.join(repr(r) for r in ROLES)}")
        role = data.get("role")
        # Echo only a word that looks like a role (never, say, an API key passed by mistake).
        shown = repr(role) if isinstance(role, str) and _ROLE_WORD.match(role) else f"this {type(role).__name__}"
        hint = _ROLE_HINTS.get(role) if isinstance(role, str) else None
        instead = f"; use {hint!r} instead" if hint else ""
        return _invalid(field, f"{shown} is not a role; expected one of {', '.join(repr(r) for r in ROLES)}{instead}")
    if kind == "extra_forbidden":
        return _invalid(field, "unknown field; remove it or pass vendor-only keys in extra")
    if kind == "missing":
        return _invalid(field, "missing; this field is required")
    message = str(first.get("msg", "invalid value"))
    message = message[len("Value error, ") :] if message.startswith("Value error, ") else message
    leaf = next((str(p) for p in reversed(loc) if isinstance(p, str) and not _is_branch_tag(p)), "")
    if leaf and message.startswith(leaf + " "):
        message = message[len(leaf) + 1 :]  # "temperature: temperature must be" -> "temperature: must be"
    return _invalid(field, message)


def _most_telling(errors: List[Any]) -> Any:
    """The error to report: pydantic lists one per union branch (``content`` as a string, then
    as a list of parts); among those about the same field as the first, the deepest says most."""
    first = errors[0]
    top = tuple(first.get("loc", ()))[:1]
    same = [e for e in errors if tuple(e.get("loc", ()))[:1] == top]
    for candidate in same:
        if isinstance(candidate.get("ctx", {}).get("error"), (FieldValueError, InvalidRequestError)):
            return candidate
    return max(same, key=lambda e: len(e.get("loc", ())))
