"""What hooks and logs see of a call. Everything here is already redacted.

Logging goes through the standard :mod:`logging` module, logger ``"llmplex"``: exactly one
record per call (INFO when it succeeded, WARNING when it failed), after all retries and
fallbacks, with the fields in ``record.llmplex`` for structured handlers::

    {"provider": "deepseek", "model": "deepseek-chat", "requested": "robust", "stream": False,
     "latency_ms": 812.4, "attempts": 2, "retries": 1, "fallbacks": 0, "status": "ok",
     "http_status": None, "request_id": "...", "prompt_tokens": 14, "completion_tokens": 8,
     "total_tokens": 22}

Each retry is also noted at DEBUG on ``"llmplex.client.retry"`` (the error and the delay).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from ..provider.contract import WireRequest
from .redact import Redactor

if TYPE_CHECKING:
    from ..errors import LLMError
    from ..schema.request import ChatRequest
    from ..schema.response import ChatResponse

__all__ = ["CallInfo", "logger", "retry_logger", "redact_wire", "log_call", "call_record", "log_retry"]

logger = logging.getLogger("llmplex")
# A library is silent until the application configures logging: without a handler anywhere,
# Python's last-resort handler would print every failed call's WARNING to stderr.
logger.addHandler(logging.NullHandler())
retry_logger = logging.getLogger("llmplex.client.retry")


@dataclass
class CallInfo:
    """One attempt of one call, as hooks see it.

    ``attempt`` counts from 1 per chain entry; ``position`` is the entry's index in the
    fallback ``chain`` (``("provider/model", ...)``; one entry without an alias).
    """

    provider: str
    model: str
    attempt: int
    stream: bool
    #: The prepared request with credentials masked.
    wire: Optional[WireRequest]
    request: ChatRequest
    started: float
    extra: Dict[str, Any] = field(default_factory=dict)
    position: int = 0
    chain: Tuple[str, ...] = ()


def redact_wire(wire: WireRequest, redactor: Redactor) -> WireRequest:
    body = wire.body
    if body is not None:
        text = body.decode("utf-8", "replace")
        masked = redactor.text(text)
        body = masked.encode("utf-8") if masked != text else body
    return WireRequest(
        method=wire.method,
        url=redactor.text(wire.url),
        headers=redactor.headers(wire.headers),
        body=body,
        framing=wire.framing,
        warnings=wire.warnings,
    )


def log_call(
    call: CallInfo,
    *,
    latency: float,
    response: Optional[ChatResponse] = None,
    error: Optional[LLMError] = None,
    requested: Optional[str] = None,
    fallbacks: int = 0,
    request_id: Optional[str] = None,
) -> Optional[Dict[str, Any]]:
    """Log the one structured record of a finished call; returns its fields, or None when the
    ``llmplex`` logger would drop the record (then nothing is built: a library whose logging is
    off must not pay for records nobody reads).

    ``call`` is the last attempt (the one that answered or gave up); ``latency`` covers the
    whole call, retries and fallbacks included.
    """
    level = logging.INFO if error is None else logging.WARNING
    if not logger.isEnabledFor(level):
        return None
    fields = call_record(call, latency=latency, response=response, error=error, requested=requested,
                         fallbacks=fallbacks, request_id=request_id)
    summary = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
    if error is not None:
        # The message was redacted by the client before the error left it.
        summary += f" error={error.message!r}"
    logger.log(level, "llmplex call %s", summary, extra={"llmplex": fields})
    return fields


def call_record(
    call: CallInfo,
    *,
    latency: float,
    response: Optional[ChatResponse] = None,
    error: Optional[LLMError] = None,
    requested: Optional[str] = None,
    fallbacks: int = 0,
    request_id: Optional[str] = None,
) -> Dict[str, Any]:
    """The fields of a finished call's record (``record.llmplex``; see the module docstring)."""
    usage = response.usage if response is not None else None
    return {
        "provider": call.provider,
        "model": call.model,
        "requested": requested,
        "stream": call.stream,
        "latency_ms": round(latency * 1000, 1),
        "attempts": call.attempt,
        "retries": call.attempt - 1,
        "fallbacks": fallbacks,
        "status": "ok" if error is None else type(error).__name__,
        "http_status": getattr(error, "status", None),
        "error_code": getattr(error, "code", None),
        "request_id": request_id if error is None else (getattr(error, "request_id", None) or request_id),
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
        "total_tokens": usage.total_tokens if usage else None,
    }


def log_retry(call: CallInfo, error: LLMError, delay: float) -> None:
    """A DEBUG note that attempt ``call.attempt`` failed and is retried in ``delay`` seconds."""
    if retry_logger.isEnabledFor(logging.DEBUG):
        retry_logger.debug(
            "llmplex retry provider=%s model=%s attempt=%d error=%s status=%s delay_s=%.3f",
            call.provider,
            call.model,
            call.attempt,
            type(error).__name__,
            error.status,
            delay,
            extra={"llmplex": {"provider": call.provider, "model": call.model, "attempt": call.attempt,
                               "error": type(error).__name__, "status": error.status, "delay": delay}},
        )
