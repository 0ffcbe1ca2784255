"""Replies: the whole response, stream chunks, usage, and the accumulator between them."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from .errors import ProtocolError
from .messages import Message, ToolCall, parse_arguments

__all__ = [
    "FinishReason",
    "Usage",
    "ChatResponse",
    "ToolCallDelta",
    "ChatChunk",
    "StreamAccumulator",
]

FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "other"]

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)


class Usage(BaseModel):
    """Token counts; ``cached_tokens`` and ``reasoning_tokens`` when the vendor reports them."""

    model_config = _MODEL_CONFIG
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: Optional[int] = None
    reasoning_tokens: Optional[int] = None


class ChatResponse(BaseModel):
    """One complete reply, the same whether it was streamed or not."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, arbitrary_types_allowed=True)
    id: Optional[str] = None
    #: The provider that answered (after fallbacks, the one that succeeded).
    provider: str
    #: The model that answered, as the vendor reported it (else as requested).
    model: str
    message: Message
    finish_reason: Optional[FinishReason] = None
    #: The vendor's own finish reason string, before normalisation.
    finish_reason_raw: Optional[str] = None
    usage: Optional[Usage] = None
    #: The vendor's parsed payload (for a stream: the list of parsed frames).
    raw: Any = None
    #: Seconds from sending the request to the complete reply.
    latency: Optional[float] = None
    #: How many attempts the call took (1 = no retry).
    attempts: int = 1
    #: Parameters of the request the provider could not send (see
    #: ``Provider.dropped_parameters``), one sentence each.
    warnings: List[str] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> List[ToolCall]:
        return list(self.message.tool_calls or [])


class ToolCallDelta(BaseModel):
    """A fragment of a streamed tool call; fragments with the same ``index`` concatenate."""

    model_config = _MODEL_CONFIG
    index: int
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""


class ChatChunk(BaseModel):
    """One streamed increment."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, arbitrary_types_allowed=True)
    text: str = ""
    reasoning: str = ""
    tool_calls: List[ToolCallDelta] = Field(default_factory=list)
    finish_reason: Optional[FinishReason] = None
    finish_reason_raw: Optional[str] = None
    usage: Optional[Usage] = None
    id: Optional[str] = None
    model: Optional[str] = None
    raw: Any = None

    @classmethod
    def unchecked(
        cls,
        *,
        text: str = "",
        reasoning: str = "",
        tool_calls: Optional[List[ToolCallDelta]] = None,
        finish_reason: Optional[FinishReason] = None,
        finish_reason_raw: Optional[str] = None,
        usage: Optional[Usage] = None,
        id: Optional[str] = None,  # noqa: A002 - the field's name
        model: Optional[str] = None,
        raw: Any = None,
    ) -> ChatChunk:
        """A chunk built without validation, for stream parsers whose values are already typed.

        A stream has hundreds of chunks; pydantic's validation (or even ``model_construct``)
        costs more per chunk than decoding its JSON. This sets the same attributes
        ``model_construct`` does, with every field given.
        """
        chunk = cls.__new__(cls)
        values = {
            "text": text,
            "reasoning": reasoning,
            "tool_calls": tool_calls if tool_calls is not None else [],
            "finish_reason": finish_reason,
            "finish_reason_raw": finish_reason_raw,
            "usage": usage,
            "id": id,
            "model": model,
            "raw": raw,
        }
        object.__setattr__(chunk, "__dict__", values)
        object.__setattr__(chunk, "__pydantic_fields_set__", set(values))
        object.__setattr__(chunk, "__pydantic_extra__", None)
        object.__setattr__(chunk, "__pydantic_private__", None)
        return chunk


    @classmethod
    def from_response(cls, reply: ChatResponse) -> ChatChunk:
        """A whole reply as the single chunk a stream of it would have been."""
        message = reply.message
        calls = [
            ToolCallDelta(index=i, id=call.id, name=call.name,
                          arguments=call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False))
            for i, call in enumerate(message.tool_calls or [])
        ]
        return cls(
            text=message.text,
            reasoning=message.reasoning_content or "",
            tool_calls=calls,
            finish_reason=reply.finish_reason,
            finish_reason_raw=reply.finish_reason_raw,
            usage=reply.usage,
            id=reply.id,
            model=reply.model,
            raw=reply.raw,
        )


class _PendingCall:
    __slots__ = ("id", "name", "arguments")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: List[str] = []


class StreamAccumulator:
    """Folds chunks into the ``ChatResponse`` a non-streamed call would have returned."""

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.id: Optional[str] = None
        self._text: List[str] = []
        self._reasoning: List[str] = []
        # Slots in arrival order; index -> slot of the call currently open at that index.
        self._calls: List[_PendingCall] = []
        self._open: Dict[int, _PendingCall] = {}
        self.finish_reason: Optional[FinishReason] = None
        self.finish_reason_raw: Optional[str] = None
        self.usage: Optional[Usage] = None
        self.raw: List[Any] = []
        self.chunks = 0

    def add(self, chunk: ChatChunk) -> None:
        self.chunks += 1
        if chunk.id and self.id is None:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.text:
            self._text.append(chunk.text)
        if chunk.reasoning:
            self._reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            slot = self._open.get(delta.index)
            # Some servers (Ollama) reuse index 0 for several whole calls: a new id opens a new call.
            if slot is None or (delta.id and slot.id and delta.id != slot.id):
                slot = _PendingCall()
                self._open[delta.index] = slot
                self._calls.append(slot)
            if delta.id:
                slot.id = delta.id
            if delta.name and not slot.name:
                slot.name = delta.name
            if delta.arguments:
                slot.arguments.append(delta.arguments)
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            self.finish_reason_raw = chunk.finish_reason_raw
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.raw is not None:
            self.raw.append(chunk.raw)

    @property
    def text(self) -> str:
        return "".join(self._text)

    def response(self, *, latency: Optional[float] = None, strict: bool = True) -> ChatResponse:
        """The assembled reply. With ``strict``, unparseable tool arguments raise ProtocolError
        whose ``partial`` still holds everything (arguments kept raw)."""
        calls: List[ToolCall] = []
        bad: Optional[str] = None
        for position, slot in enumerate(self._calls):
            raw = "".join(slot.arguments)
            call_id = slot.id or f"call_{position}"
            try:
                calls.append(ToolCall(id=call_id, name=slot.name, raw_arguments=raw))
            except ValueError as exc:
                bad = bad or f"tool call {slot.name!r} arguments are not a JSON object: {exc}"
                calls.append(ToolCall(id=call_id, name=slot.name, arguments={}, raw_arguments=raw))
        message = Message(
            role="assistant",
            content=self.text if (self._text or not calls) else None,
            tool_calls=calls or None,
            reasoning_content="".join(self._reasoning) or None,
        )
        response = ChatResponse(
            id=self.id,
            provider=self.provider,
            model=self.model,
            message=message,
            finish_reason=self.finish_reason,
            finish_reason_raw=self.finish_reason_raw,
            usage=self.usage,
            raw=self.raw,
            latency=latency,
        )
        if bad is not None and strict:
            raise ProtocolError(bad, provider=self.provider, model=self.model, partial=response)
        return response


def tool_call_from_vendor(call_id: str, name: str, raw_arguments: Any, *, provider: str, payload: Any) -> ToolCall:
    """A ToolCall from a vendor reply; arguments may be a JSON string or an object."""
    if isinstance(raw_arguments, dict):
        return ToolCall(id=call_id, name=name, arguments=raw_arguments)
    raw = raw_arguments if isinstance(raw_arguments, str) else ""
    try:
        return ToolCall(id=call_id, name=name, arguments=parse_arguments(raw), raw_arguments=raw)
    except ValueError as exc:
        raise ProtocolError(
            f"tool call {name!r} arguments from the vendor are not a JSON object: {exc}",
            provider=provider,
            raw=str(payload),
        ) from None
