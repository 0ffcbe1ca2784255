"""Assembling stream chunks into the whole reply, and vendor tool calls into ``ToolCall``s.

Which call a streamed tool-call fragment belongs to is decided here, once, for every vendor
(parsers pass through the keys the vendor sent, never positions they made up):

1. a fragment with an ``id`` already seen continues that call;
2. else a fragment with an ``index`` continues the call open at that index, unless it carries
   an ``id`` that differs from that call's (Ollama reuses index 0 for several whole calls):
   then it opens a new call at that index;
3. else a fragment with neither continues the call that received the last fragment (unless
   it names a different function than that call: a new call without keys);
4. anything else opens a new call, remembered under the keys it carries.

So id-only streams (every fragment repeats the id, or only the first one carries it),
index-only streams and streams mixing both (Hunyuan: ``Id`` and ``Index`` on the first
fragment, ``Index`` alone after) assemble the same calls.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, Dict, List, Optional, Union

from ..errors import ProtocolError
from . import fastpath as fast
from .messages import Message, ToolCall, parse_arguments
from .response import ChatChunk, ChatResponse, Choice, FinishReason, Usage

__all__ = ["StreamAccumulator", "tool_call_from_vendor", "RAW_TAIL"]

#: How many parsed frames a streamed reply's ``raw`` keeps by default (the last ones: the
#: finish reason, usage and any vendor trailer are there). ``keep_raw=True`` keeps all.
RAW_TAIL = 8


# Text pieces joined into one block every this many: a stream of one-token chunks would
# otherwise hold one small str object (~50 bytes of overhead) per chunk until the end.
_JOIN_EVERY = 1024


class _Text:
    """Appended text with O(total) copying and memory close to the text's own size."""

    __slots__ = ("blocks", "pieces")

    def __init__(self) -> None:
        self.blocks: List[str] = []
        self.pieces: List[str] = []

    def append(self, piece: str) -> None:
        pieces = self.pieces
        pieces.append(piece)
        if len(pieces) >= _JOIN_EVERY:
            self.blocks.append("".join(pieces))
            pieces.clear()

    def __bool__(self) -> bool:
        return bool(self.blocks or self.pieces)

    def value(self) -> str:
        return "".join(self.blocks) + "".join(self.pieces)


class _PendingCall:
    __slots__ = ("id", "name", "arguments", "state")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: List[str] = []
        self.state: Dict[str, Any] = {}


class _ChoiceState:
    """What one answer (one ``choice`` index) has received so far."""

    __slots__ = ("text", "reasoning", "calls", "by_index", "by_id", "last", "finish_reason", "finish_reason_raw")

    def __init__(self) -> None:
        self.text = _Text()
        self.reasoning = _Text()
        # Calls in arrival order; the keys a vendor used point at them.
        self.calls: List[_PendingCall] = []
        self.by_index: Dict[int, _PendingCall] = {}
        self.by_id: Dict[str, _PendingCall] = {}
        self.last: Optional[_PendingCall] = None
        self.finish_reason: Optional[FinishReason] = None
        self.finish_reason_raw: Optional[str] = None

    def slot(self, index: Optional[int], call_id: Optional[str], name: Optional[str]) -> _PendingCall:
        """The call a fragment with these keys belongs to (the module docstring's rule)."""
        if call_id:
            known = self.by_id.get(call_id)
            if known is not None:
                if index is not None:
                    self.by_index[index] = known
                return known
        if index is not None:
            open_call = self.by_index.get(index)
            if open_call is not None and not (call_id and open_call.id and open_call.id != call_id):
                if call_id:
                    open_call.id = call_id
                    self.by_id[call_id] = open_call
                return open_call
        elif not call_id and self.last is not None:
            last = self.last
            if not (name and last.name and name != last.name):
                return last
        call = _PendingCall()
        self.calls.append(call)
        if index is not None:
            self.by_index[index] = call
        if call_id:
            call.id = call_id
            self.by_id[call_id] = call
        return call

    def message(self, bad: List[str], provider_state: Dict[str, Any]) -> Message:
        calls: List[ToolCall] = []
        for position, slot in enumerate(self.calls):
            raw = "".join(slot.arguments)
            call_id = slot.id or f"call_{position}"
            try:
                calls.append(ToolCall(id=call_id, name=slot.name, raw_arguments=raw, provider_state=slot.state))
            except ValueError as exc:
                bad.append(f"tool call {slot.name!r} arguments are not a JSON object: {exc}")
                calls.append(ToolCall(id=call_id, name=slot.name, arguments={}, raw_arguments=raw,
                                      provider_state=slot.state))
        return Message(
            role="assistant",
            content=self.text.value() if (self.text or not calls) else None,
            tool_calls=calls or None,
            reasoning_content=self.reasoning.value() or None,
            provider_state=provider_state,
        )


class StreamAccumulator:
    """Folds chunks into the ``ChatResponse`` a non-streamed call would have returned.

    Memory grows with the assembled answer only: of the parsed frames, ``raw`` keeps the last
    :data:`RAW_TAIL` unless ``keep_raw`` (then every one, in order).
    """

    def __init__(self, *, provider: str, model: str, keep_raw: bool = False) -> None:
        self.provider = provider
        self.model = model
        self.id: Optional[str] = None
        self._choices: Dict[int, _ChoiceState] = {0: _ChoiceState()}
        self.usage: Optional[Usage] = None
        self.raw: Union[List[Any], Deque[Any]] = [] if keep_raw else deque(maxlen=RAW_TAIL)
        self.chunks = 0
        self.provider_state: Dict[str, Any] = {}
        #: Filled by the client from the HTTP reply.
        self.request_id: Optional[str] = None
        self.headers: Dict[str, str] = {}

    def add(self, chunk: ChatChunk) -> None:
        self.chunks += 1
        if chunk.id and self.id is None:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        state = self._choices.get(chunk.choice)
        if state is None:
            state = self._choices[chunk.choice] = _ChoiceState()
        if chunk.text:
            state.text.append(chunk.text)
        if chunk.reasoning:
            state.reasoning.append(chunk.reasoning)
        for delta in chunk.tool_calls:
            slot = state.slot(delta.index, delta.id, delta.name)
            state.last = slot
            if delta.name and not slot.name:
                slot.name = delta.name
            if delta.arguments:
                slot.arguments.append(delta.arguments)
            if delta.provider_state:
                slot.state.update(delta.provider_state)
        if chunk.provider_state:
            self.provider_state.update(chunk.provider_state)
        if chunk.finish_reason is not None:
            state.finish_reason = chunk.finish_reason
            state.finish_reason_raw = chunk.finish_reason_raw
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.raw is not None:
            self.raw.append(chunk.raw)

    @property
    def text(self) -> str:
        """The first answer's text so far."""
        return self._choices[0].text.value()

    @property
    def finish_reason(self) -> Optional[FinishReason]:
        return self._choices[0].finish_reason

    @property
    def finish_reason_raw(self) -> Optional[str]:
        return self._choices[0].finish_reason_raw

    def response(self, *, latency: Optional[float] = None, strict: bool = True) -> ChatResponse:
        """The assembled reply. With ``strict``, unparseable tool arguments raise ProtocolError
        whose ``partial`` still holds everything (arguments kept raw)."""
        bad: List[str] = []
        choices = [
            Choice(
                index=index,
                # Chunk-level provider state is the reply's: it goes with the first answer.
                message=state.message(bad, self.provider_state if index == 0 else {}),
                finish_reason=state.finish_reason,
                finish_reason_raw=state.finish_reason_raw,
            )
            for index, state in sorted(self._choices.items())
        ]
        first = choices[0]
        response = ChatResponse(
            id=self.id,
            provider=self.provider,
            model=self.model,
            message=first.message,
            finish_reason=first.finish_reason,
            finish_reason_raw=first.finish_reason_raw,
            usage=self.usage,
            raw=list(self.raw),
            latency=latency,
            choices=choices,
            request_id=self.request_id,
            headers=dict(self.headers),
        )
        if bad and strict:
            raise ProtocolError(bad[0], provider=self.provider, model=self.model, partial=response)
        return response


def tool_call_from_vendor(call_id: str, name: str, raw_arguments: Any, *, provider: str, payload: Any) -> ToolCall:
    """A ToolCall from a vendor reply; arguments may be a JSON string or an object."""
    if isinstance(raw_arguments, dict):
        return fast.vendor_tool_call(call_id, name, raw_arguments, None) or ToolCall(
            id=call_id, name=name, arguments=raw_arguments
        )
    raw = raw_arguments if isinstance(raw_arguments, str) else ""
    try:
        arguments = parse_arguments(raw)
        return fast.vendor_tool_call(call_id, name, arguments, raw) or ToolCall(
            id=call_id, name=name, arguments=arguments, raw_arguments=raw
        )
    except ValueError as exc:
        raise ProtocolError(
            f"tool call {name!r} arguments from the vendor are not a JSON object: {exc}",
            provider=provider,
            raw=str(payload),
        ) from None
