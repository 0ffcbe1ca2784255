"""What the client adds to a request and a reply beyond the provider's translation: per-call
headers, the reply's request id and headers, and the chain entries
that failed before the one that answered."""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Set

from ..errors import InvalidRequestError, LLMError
from ..provider.contract import WireRequest, WireResponse
from ..schema.accumulator import StreamAccumulator
from ..schema.request import ChatRequest
from ..schema.response import ChatResponse, FallbackFailure
from .redact import Redactor

__all__ = ["keep_raw", "with_call_headers", "masked", "set_fields", "stamp_reply", "stamp_stream", "fallback_failure"]


def keep_raw(options: Mapping[str, object]) -> bool:
    """The ``keep_raw=`` call option: a bool (``"false"`` must not mean keep)."""
    value = options.get("keep_raw")
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequestError(
            f"keep_raw: must be True or False, got {type(value).__name__}", field="keep_raw"
        )
    return value


def with_call_headers(wire: WireRequest, request: ChatRequest, provider: str) -> WireRequest:
    """``wire`` with the call's ``headers=`` added. One the provider sets itself (credentials,
    signatures, content type) is refused: replacing it would break the request or its auth."""
    if not request.headers:
        return wire
    own = {name.lower() for name in wire.headers}
    for name in request.headers:
        if name.lower() in own:
            field = f"headers.{name}"
            raise InvalidRequestError(
                f"{field}: {provider} sets this header itself; remove it from headers= "
                f"(use [providers.{provider}] options for the provider's own settings)",
                provider=provider,
                field=field,
            )
    return dataclasses.replace(wire, headers={**wire.headers, **request.headers})


def masked(wire: WireRequest, redactor: Redactor) -> WireRequest:
    """``wire.masked_by(redactor)``, copied without ``dataclasses.replace`` re-running every
    field through ``__init__`` (nothing but the masker changes; this runs on every call)."""
    if type(wire) is not WireRequest or not hasattr(wire, "__dict__"):
        return wire.masked_by(redactor)
    copy = object.__new__(WireRequest)
    copy.__dict__.update(wire.__dict__)
    copy.__dict__["redactor"] = redactor
    return copy


# Model classes whose field assignment is pydantic's plain one (no validation, not frozen,
# no __setattr__ of their own), with their field names.
_PLAIN: Dict[type, Set[str]] = {}


def set_fields(model: Any, **values: Any) -> None:
    """``setattr(model, name, value)`` for each of ``values``, in one step where pydantic's
    assignment would only store the value and mark the field set (what the client stamps on
    every reply: attempts, latency, headers...)."""
    cls = type(model)
    fields = _PLAIN.get(cls)
    if fields is None:
        from pydantic import BaseModel

        config = getattr(cls, "model_config", {})
        own_setattr: object = cls.__setattr__
        plain = (isinstance(model, BaseModel) and own_setattr is BaseModel.__setattr__
                 and not config.get("validate_assignment") and not config.get("frozen"))
        fields = _PLAIN[cls] = set(cls.model_fields) if plain else set()
    if fields and all(name in fields for name in values):
        model.__dict__.update(values)
        model.__pydantic_fields_set__.update(values)
        return
    for name, value in values.items():
        setattr(model, name, value)


def stamp_reply(reply: ChatResponse, response: WireResponse, redactor: Redactor,
                request_id: Optional[str] = None) -> ChatResponse:
    """The request id and headers of the HTTP reply, on the parsed reply. ``request_id`` is the
    reply's, already masked (the caller has it; None: read from ``response``)."""
    if reply.request_id is None:
        # Masked: a server may reflect the key in its request id.
        if request_id is None and response.request_id is not None:
            request_id = redactor.text(response.request_id)
        set_fields(reply, request_id=request_id, headers=redactor.headers(response.headers))
    else:
        set_fields(reply, headers=redactor.headers(response.headers))
    return reply


def stamp_stream(
    accumulator: StreamAccumulator, request_id: Optional[str], headers: Mapping[str, str], redactor: Redactor
) -> None:
    accumulator.request_id = None if request_id is None else redactor.text(request_id)
    accumulator.headers = redactor.headers(headers)


def fallback_failure(target: str, error: LLMError) -> FallbackFailure:
    """A failed chain entry for ``ChatResponse.fallbacks``; the error is already masked."""
    provider, _, model = target.partition("/")
    return FallbackFailure(
        target=target,
        provider=error.provider or provider,
        model=error.model or model,
        error=type(error).__name__,
        message=error.message,
        status=error.status,
        attempts=error.attempts or 1,
    )
