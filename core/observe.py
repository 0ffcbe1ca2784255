"""What hooks and logs see of a call. Everything here is already redacted."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional

from .provider import WireRequest
from .redact import Redactor

if TYPE_CHECKING:
    from .errors import LLMError
    from .request import ChatRequest
    from .response import ChatResponse

__all__ = ["CallInfo", "logger", "redact_wire", "log_call"]

logger = logging.getLogger("llmplex")


@dataclass
class CallInfo:
    """One attempt of one call, as hooks see it."""

    provider: str
    model: str
    attempt: int
    stream: bool
    #: The prepared request with credentials masked.
    wire: Optional[WireRequest]
    request: ChatRequest
    started: float
    extra: Dict[str, Any] = field(default_factory=dict)


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
    )


def log_call(
    call: CallInfo,
    *,
    latency: float,
    response: Optional[ChatResponse] = None,
    error: Optional[LLMError] = None,
) -> None:
    """One structured record per finished call (fields also in ``record.llmplex``)."""
    usage = response.usage if response is not None else None
    fields: Dict[str, Any] = {
        "provider": call.provider,
        "model": call.model,
        "stream": call.stream,
        "latency_ms": round(latency * 1000, 1),
        "attempts": call.attempt,
        "status": "ok" if error is None else type(error).__name__,
        "http_status": getattr(error, "status", None),
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "completion_tokens": usage.completion_tokens if usage else None,
    }
    level = logging.INFO if error is None else logging.WARNING
    if logger.isEnabledFor(level):
        summary = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        logger.log(level, "llmplex call %s", summary, extra={"llmplex": fields})
