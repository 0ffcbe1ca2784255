"""Assembling stream chunks into the whole reply, and vendor tool calls into ``ToolCall``s."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from ..errors import ProtocolError
from .messages import Message, ToolCall, parse_arguments
from .response import ChatChunk, ChatResponse, FinishReason, Usage

__all__ = ["StreamAccumulator", "tool_call_from_vendor"]


class _PendingCall:
    __slots__ = ("id", "name", "arguments", "state")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: List[str] = []
        self.state: Dict[str, Any] = {}


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
        self.provider_state: Dict[str, Any] = {}

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
            if delta.provider_state:
                slot.state.update(delta.provider_state)
        if chunk.provider_state:
            self.provider_state.update(chunk.provider_state)
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
                calls.append(ToolCall(id=call_id, name=slot.name, raw_arguments=raw, provider_state=slot.state))
            except ValueError as exc:
                bad = bad or f"tool call {slot.name!r} arguments are not a JSON object: {exc}"
                calls.append(ToolCall(id=call_id, name=slot.name, arguments={}, raw_arguments=raw,
                                      provider_state=slot.state))
        message = Message(
            role="assistant",
            content=self.text if (self._text or not calls) else None,
            tool_calls=calls or None,
            reasoning_content="".join(self._reasoning) or None,
            provider_state=self.provider_state,
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
