"""Spark's errors: ``header.code`` of a frame, and the gateway's HTTP answer to a bad upgrade.

The code table is the 错误码 table of iFlytek's WebSocket doc (shared/reference/
vendors-spark-hunyuan.md §1.6); the handshake answers are the gateway's "鉴权结果" table (§1.2).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type, Union

from llmplex.provider.error_mapping import status_error
from llmplex.errors import (
    AuthenticationError,
    ConnectionError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from llmplex.provider.contract import WireResponse
from llmplex.provider.wire import loads_or_none
from llmplex.client.retry import set_should_retry
from llmplex.signing.spark import REJECT_BAD_DATE

__all__ = ["CODES", "error_for_code", "handshake_error"]

# code -> (class, what iFlytek's table says it means). Ranges are spelled out so a lookup is one
# dict access and the table reads like the doc's.
CODES: Dict[int, Tuple[Type[LLMError], str]] = {
    **{c: (ConnectionError, "WebSocket upgrade/read/write error") for c in (10000, 10001, 10002)},
    10003: (InvalidRequestError, "message format is wrong"),
    10004: (InvalidRequestError, "message schema is wrong"),
    10005: (InvalidRequestError, "a parameter value is wrong"),
    10006: (RateLimitError, "the same user is connected twice at once"),
    10007: (RateLimitError, "user busy: the previous question has not finished"),
    10008: (ServerError, "service capacity insufficient"),
    **{c: (ServerError, "engine connect/receive/send/internal error") for c in (10009, 10010, 10011, 10012)},
    10013: (ContentFilterError, "the input failed moderation"),
    10014: (ContentFilterError, "the output failed moderation"),
    10015: (PermissionDeniedError, "the appid is blacklisted"),
    # Mixed causes (feature or version not enabled, tokens used up, concurrency over the grant);
    # most are not fixed by waiting, so not RateLimitError.
    10016: (PermissionDeniedError, "appid authorization failed (feature, version, tokens or concurrency)"),
    10017: (ServerError, "clearing the history failed"),
    10018: (ConnectionError, "no request for 5 minutes of pings"),
    10019: (ContentFilterError, "the conversation tends toward violations"),
    10021: (ContentFilterError, "input moderation failed"),
    10110: (ServerError, "service busy"),
    10163: (InvalidRequestError, "engine schema check failed (a parameter)"),
    10222: (ServerError, "engine network error"),
    10223: (ServerError, "no engine node available"),
    10907: (ContextLengthError, "too many tokens: history plus question are too long"),
    11200: (PermissionDeniedError, "no authorization for this feature, or business volume over the limit"),
    # A rate limit so that a fallback chain moves on to its next model; never retried on the
    # same one, since waiting does not restore a daily quota (see error_for_code).
    11201: (RateLimitError, "daily quota exceeded"),
    11202: (RateLimitError, "per-second rate limit exceeded"),
    11203: (RateLimitError, "concurrency limit exceeded"),
}

#: Codes whose class is retryable but where another attempt cannot succeed soon.
_NOT_RETRIED = frozenset({11201})


def error_for_code(
    code: int,
    message: str,
    *,
    provider: str,
    model: Optional[str],
    sid: Optional[str],
    raw: Union[str, bytes, None],
) -> LLMError:
    """The LLMError for a non-zero ``header.code``; an unknown code is a ServerError."""
    cls, meaning = CODES.get(code, (ServerError, "not in iFlytek's error table"))
    error = cls(
        f"{provider}: {message or 'error'} (Spark error {code}: {meaning})",
        provider=provider,
        model=model,
        code=code,
        request_id=sid,
        raw=raw,
    )
    return set_should_retry(error, False) if code in _NOT_RETRIED else error


def handshake_error(response: WireResponse, *, provider: str, model: Optional[str]) -> LLMError:
    """The LLMError for an HTTP answer to the WebSocket upgrade (the gateway refused to connect)."""
    message = _message(response.body) or f"HTTP {response.status}"
    context: Dict[str, Any] = {"provider": provider, "model": model, "raw": response.body}
    if response.status == 401:
        return AuthenticationError(
            f"{provider}: {message} (HTTP 401 on the WebSocket upgrade; check api_key and api_secret)",
            status=401,
            **context,
        )
    if response.status == 403 and message == REJECT_BAD_DATE:
        # The signed date is more than 300 s from the gateway's clock. Each attempt re-signs with
        # a fresh date, so only a wrong local clock keeps this failing: an auth failure to fix.
        return AuthenticationError(
            f"{provider}: {message} (HTTP 403: the signed date is over 300 s from iFlytek's clock; "
            "check this machine's clock)",
            status=403,
            **context,
        )
    return status_error(response.status, f"{provider}: {message}", headers=response.headers, **context)


def _message(body: bytes) -> str:
    data = loads_or_none(body)
    message = data.get("message") if isinstance(data, dict) else None
    return message if isinstance(message, str) else body.decode("utf-8", "replace").strip()[:500]
