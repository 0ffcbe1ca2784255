"""Shared rules for turning a vendor's error into the llmplex hierarchy.

Providers decide what the vendor's fields mean; these helpers hold the rules every vendor shares:
HTTP status classes, context-length wording, ``Retry-After`` parsing.
"""

from __future__ import annotations

import email.utils
import re
from typing import Any, Mapping, Optional, Type, Union

from .errors import (
    AuthenticationError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_class_for_status", "looks_like_context_length", "parse_retry_after", "status_error"]

# Substrings vendors use for "prompt too long" (collected in shared/reference/vendors.md §0.2).
_CONTEXT_PHRASES = (
    "maximum context length",
    "context_length_exceeded",
    "exceed context limit",
    "maximum context limit",
    "longer than the model's context length",
    "input tokens exceed the configured limit",
    "exceeds the maximum number of tokens allowed",
    "exceeds the available context size",
    "prompt is too long",
    "input token length too long",
    "exceeded model token limit",
    "range of input length should be",
    "tokens_too_long",
)
_CURRENT_LENGTH = re.compile(r"current length is .* while limit is", re.IGNORECASE)


def looks_like_context_length(*texts: Optional[Union[str, int]]) -> bool:
    for text in texts:
        if text is None:
            continue
        lowered = str(text).lower()
        if any(phrase in lowered for phrase in _CONTEXT_PHRASES) or _CURRENT_LENGTH.search(lowered):
            return True
    return False


def error_class_for_status(status: int) -> Type[LLMError]:
    if status == 401:
        return AuthenticationError
    if status in (402, 403):
        return PermissionDeniedError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status in (408, 409) or status >= 500:
        return ServerError
    return InvalidRequestError


def status_error(
    status: int,
    message: str,
    *,
    code: Optional[Union[str, int]] = None,
    error_type: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    **context: Any,
) -> LLMError:
    """The error for an HTTP status, refined by the vendor's code, type and message."""
    cls = error_class_for_status(status)
    marker = f"{code or ''} {error_type or ''}".lower()
    if cls is InvalidRequestError:
        if looks_like_context_length(message, code, error_type):
            cls = ContextLengthError
        elif "content_filter" in marker or "risk" in marker or "sensitive" in marker or "unsafe" in marker:
            cls = ContentFilterError
    if cls is RateLimitError and "insufficient_quota" in marker:
        # A quota that is used up will not come back by waiting: do not retry it.
        cls = PermissionDeniedError
    retry_after = parse_retry_after(headers or {}, now=None)
    return cls(message, status=status, code=code, retry_after=retry_after, **context)


def parse_retry_after(headers: Mapping[str, str], *, now: Optional[float]) -> Optional[float]:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or HTTP date).

    ``now`` is needed only for the HTTP-date form; without it that form is ignored.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
            if value >= 0 and value == value:  # also rejects NaN
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
        return value if value >= 0 and value == value else None
    except ValueError:
        pass
    if now is None:
        return None
    parsed = email.utils.parsedate_to_datetime(raw) if _looks_like_date(raw) else None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - now)


def _looks_like_date(raw: str) -> bool:
    try:
        return email.utils.parsedate_tz(raw) is not None
    except (TypeError, ValueError):
        return False
