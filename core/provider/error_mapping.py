"""Shared rules for turning a vendor's error into the llmplex hierarchy.

Providers decide what the vendor's fields mean; these helpers hold the rules every vendor shares:
HTTP status classes, context-length wording, ``Retry-After`` parsing.
"""

from __future__ import annotations

import email.utils
import math
import re
from typing import Any, Mapping, Optional, Type, Union

from ..errors import (
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
from ..client.retry import server_says_retry, set_should_retry

__all__ = [
    "error_class_for_status", "looks_like_context_length", "parse_retry_after", "reclassify", "status_error",
]

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
    now: Optional[float] = None,
    **context: Any,
) -> LLMError:
    """The error for an HTTP status, refined by the vendor's code, type and message.

    ``headers`` give ``retry_after`` (``retry-after-ms``, ``Retry-After`` seconds; the HTTP-date
    form needs ``now``, which providers do not have: the client fills it in from the same
    headers with its injected clock) and the server's ``x-should-retry`` verdict.
    """
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
    retry_after = parse_retry_after(headers or {}, now=now)
    error = cls(message, status=status, code=code, retry_after=retry_after, **context)
    return set_should_retry(error, server_says_retry(headers or {}))


def reclassify(error: LLMError, cls: Type[LLMError]) -> LLMError:
    """``error`` as an instance of ``cls``, every field kept (a vendor code refining a status class)."""
    if type(error) is cls:
        return error
    moved = cls(
        error.message, provider=error.provider, model=error.model, status=error.status, code=error.code,
        request_id=error.request_id, raw=error.raw, partial=error.partial, retry_after=error.retry_after,
        attempts=error.attempts, field=error.field,
    )
    moved.should_retry = error.should_retry
    return moved


def parse_retry_after(headers: Mapping[str, str], *, now: Optional[float]) -> Optional[float]:
    """Seconds to wait from ``retry-after-ms``, else ``retry-after`` (seconds or HTTP date).

    Never raises. Rules (the OpenAI SDK's): ``retry-after-ms`` is milliseconds and wins;
    ``retry-after`` may be a float ("if someone sends a float there's no reason for us to not
    respect it"); an HTTP date is converted with ``now`` (seconds since the epoch, from the
    injected clock) and ignored without it. Negative, NaN, a literal ``inf`` and unparseable
    values give None (so the caller backs off normally); a number so large it overflows to
    infinity gives ``inf`` (the server asked for a very long wait: do not retry fast). A date in
    the past gives 0.0.
    """
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = lowered.get(name)
        if raw is None:
            continue
        seconds = _number(raw)
        if seconds is not None:
            return seconds / scale
        if name == "retry-after" and now is not None:
            return _date_delta(raw, now)
    return None


def _number(raw: str) -> Optional[float]:
    text = raw.strip()
    try:
        value = float(text)
    except ValueError:
        return None
    if math.isnan(value) or value < 0:
        return None
    if math.isinf(value):
        # "inf" written out is nonsense; digits that overflow mean "a very long time".
        return None if text.lstrip("+").lower() in ("inf", "infinity") else math.inf
    return value


def _date_delta(raw: str, now: float) -> Optional[float]:
    try:
        parsed = email.utils.parsedate_tz(raw)
        if parsed is None:
            return None
        return max(0.0, float(email.utils.mktime_tz(parsed)) - now)
    except (TypeError, ValueError, OverflowError):
        # e.g. a year beyond datetime's range: unusable, back off normally.
        return None
