"""The one way a provider reads the vendor's JSON, and the helpers for the untrusted values in it.

Everything a vendor sends is parsed here: reply bodies, error bodies, SSE event data, NDJSON
lines, WebSocket frames. A payload that is not JSON (truncated, HTML, a BOM in the wrong place,
nesting deep enough to exhaust the parser's recursion, more digits than ``int()`` accepts, a
lone surrogate) becomes a :class:`~llmplex.errors.ProtocolError` whose ``raw`` holds the payload,
capped at :data:`RAW_LIMIT`. Nothing else escapes, so a provider cannot forget a case: its source
never calls ``json.loads`` itself (``tests/providers/test_wire.py`` checks every provider).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

from ..errors import MAX_RAW, InvalidRequestError, LLMError, ProtocolError, capped_raw

__all__ = [
    "RAW_LIMIT",
    "JSON_FAILURES",
    "capped",
    "vendor_fault",
    "loads",
    "loads_object",
    "loads_or_none",
    "parse_json_body",
    "dumps",
    "dumps_text",
    "json_dict",
    "json_str",
    "json_int",
    "iter_dicts",
]

#: How much of a payload an error keeps in ``raw`` (bytes or characters): the errors' own cap.
RAW_LIMIT = MAX_RAW

#: What ``json.loads`` raises on hostile input: JSONDecodeError and ``int()``'s digit limit
#: (ValueError), undecodable bytes (UnicodeError, a ValueError too), nesting deeper than the
#: interpreter's recursion limit (RecursionError), and non-text input (TypeError).
JSON_FAILURES = (ValueError, RecursionError, TypeError)

Payload = Union[str, bytes, bytearray]


def capped(raw: Payload) -> Union[str, bytes]:
    """``raw`` cut to :data:`RAW_LIMIT` (what an error may keep of a vendor's payload)."""
    kept: Union[str, bytes] = capped_raw(bytes(raw) if isinstance(raw, bytearray) else raw)
    return kept


def _text(data: Payload) -> str:
    if isinstance(data, (bytes, bytearray)):
        # utf-8-sig drops a BOM; strip() drops keep-alive blank lines before the document.
        return bytes(data).decode("utf-8-sig").strip()
    return data.lstrip("\ufeff").strip()


# json.loads' own scanner, called directly: for the usual payload (an object with nothing
# around it) that skips json.loads' type dispatch and its two whitespace regex matches, a
# good part of a short stream event's parse.
_scan_once: Callable[[str, int], Tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(data: Payload, *, provider: str, what: str = "reply") -> Any:
    """The JSON value in ``data``; ProtocolError (``raw`` = ``data``, capped) if it is not JSON.

    Tolerates a UTF-8 BOM and surrounding whitespace (DeepSeek sends keep-alive blank lines
    before a reply). ``what`` names the payload in the message: ``"reply"``, ``"error reply"``,
    ``"stream event"``, ``"frame"``.
    """
    text: Optional[str] = None
    if type(data) is str:
        text = data if data[:1] == "{" else None
    elif type(data) is bytes and data[:1] == b"{":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass  # the full path below says what it is
    if text is not None:
        try:
            value, end = _scan_once(text, 0)
            if end == len(text):
                return value
        except Exception:  # noqa: BLE001 - any failure: the full path below says what it is
            pass
    try:
        return json.loads(_text(data))
    except RecursionError:
        reason = "it is nested too deeply to parse"
    except JSON_FAILURES as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    raise ProtocolError(f"{provider} {what} is not valid JSON ({reason})", provider=provider, raw=capped(data))


def loads_object(data: Payload, *, provider: str, what: str = "reply") -> Dict[str, Any]:
    """The JSON object in ``data`` (see :func:`loads`); ProtocolError if it is JSON but no object."""
    if type(data) is str and data[:1] == "{":  # a stream event: loads' fast path, one call less
        try:
            found, end = _scan_once(data, 0)
            if end == len(data):
                return found  # type: ignore[no-any-return]  # it began with "{": an object
        except Exception:  # noqa: BLE001 - any failure: loads below says what it is
            pass
    value = loads(data, provider=provider, what=what)
    if not isinstance(value, dict):
        raise ProtocolError(f"{provider} {what} is not an object", provider=provider, raw=capped(data))
    return value


def parse_json_body(body: bytes, *, provider: str, what: str = "reply") -> Any:
    """JSON from a vendor body (see :func:`loads`)."""
    return loads(body, provider=provider, what=what)


def loads_or_none(data: Payload) -> Optional[Any]:
    """The JSON value in ``data``, or None when it is empty or not JSON.

    For payloads whose JSON is a bonus, such as an error body: the HTTP status already says
    what happened, so a body that does not parse must not hide it.
    """
    try:
        text = _text(data)
        return json.loads(text) if text else None
    except JSON_FAILURES:
        return None


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON for a request body.

    Strict: NaN and infinities are refused (``ValueError``) instead of being written as the
    invalid JSON tokens ``NaN``/``Infinity``. The caller's values were checked when the request
    was made (:mod:`llmplex.schema.jsonvalue`), so this only fails on a provider's own bug.
    """
    return dumps_text(value).encode("utf-8")


def dumps_text(value: Any) -> str:
    """``value`` as compact JSON text (for vendors that want JSON inside a string field)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def vendor_fault(error: LLMError, provider: str) -> LLMError:
    """``error`` as raised while turning a vendor's reply into models: a schema refusal there
    (text with a lone surrogate, say) is the vendor's fault, a ProtocolError, not the caller's
    InvalidRequestError. Other errors are returned as they are."""
    if isinstance(error, InvalidRequestError) and getattr(error, "from_schema", False):
        return ProtocolError(f"{provider} reply does not fit llmplex's schema ({error.message})", provider=provider)
    return error


def json_dict(value: Any) -> Dict[str, Any]:
    """``value`` if the vendor sent an object there, else ``{}`` (replies are not trusted)."""
    return value if isinstance(value, dict) else {}


def json_str(value: Any) -> str:
    """``value`` if the vendor sent a string there, else ``""``."""
    return value if isinstance(value, str) else ""


def json_int(value: Any) -> int:
    """A non-negative integer count (tokens) the vendor sent, else 0; booleans are not counts."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def iter_dicts(value: Any) -> Iterable[Dict[str, Any]]:
    """The dict items of a list (vendors sometimes put nulls in arrays)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item
