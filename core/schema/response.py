"""Replies: the whole response, stream chunks and usage."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .messages import Message, ToolCall
from .model import unset_private

__all__ = [
    "FinishReason",
    "Usage",
    "Choice",
    "FallbackFailure",
    "ChatResponse",
    "ToolCallDelta",
    "ChatChunk",
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


class Choice(BaseModel):
    """One of the answers of a reply; a request with ``n > 1`` gets several."""

    model_config = _MODEL_CONFIG
    index: int = 0
    message: Message
    finish_reason: Optional[FinishReason] = None
    finish_reason_raw: Optional[str] = None


class FallbackFailure(BaseModel):
    """A fallback-chain entry that failed before the one that answered, and why."""

    model_config = _MODEL_CONFIG
    #: ``provider/model`` as the chain names it.
    target: str
    provider: str
    model: str
    #: The error's class name (``RateLimitError``) and its message, secrets masked.
    error: str
    message: str
    status: Optional[int] = None
    attempts: int = 1


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
    #: The vendor's parsed payload. For a stream: the last few parsed frames only (bounded
    #: memory), or every frame with ``client.stream(..., keep_raw=True)``.
    raw: Any = None
    #: Seconds from sending the request to the complete reply.
    latency: Optional[float] = None
    #: How many attempts the call took (1 = no retry).
    attempts: int = 1
    #: Parameters of the request the provider could not send (see
    #: ``Capabilities.dropped``), one sentence each.
    warnings: List[str] = Field(default_factory=list)
    #: The reply validated into ``response_model`` (``client.chat(..., response_model=M)``).
    parsed: Any = None
    #: Every answer, in the vendor's order; ``message`` is ``choices[0].message``. Filled from
    #: ``message`` when a provider gives only one.
    choices: List[Choice] = Field(default_factory=list)
    #: The vendor's request id (from the reply's headers or body), for support tickets.
    request_id: Optional[str] = None
    #: The reply's HTTP headers, names lower-cased (rate-limit headers, ``openai-processing-ms``).
    headers: Dict[str, str] = Field(default_factory=dict)
    #: Chain entries that failed, in order, before ``provider`` answered (empty: the first did).
    fallbacks: List[FallbackFailure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _first_choice(self) -> ChatResponse:
        if not self.choices:
            self.choices = [
                Choice(message=self.message, finish_reason=self.finish_reason, finish_reason_raw=self.finish_reason_raw)
            ]
        return self

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def tool_calls(self) -> List[ToolCall]:
        return list(self.message.tool_calls or [])


# BaseModel's own __setattr__ validates and tracks fields; unchecked chunks set its slots.
_setattr = object.__setattr__
_new = object.__new__


class ToolCallDelta(BaseModel):
    """A fragment of a streamed tool call, with the keys the vendor sent (``index``, ``id``,
    either or both). :class:`~llmplex.schema.accumulator.StreamAccumulator` decides which call a
    fragment continues; parsers pass the vendor's keys through and never invent them."""

    model_config = _MODEL_CONFIG
    index: Optional[int] = None
    id: Optional[str] = None
    name: Optional[str] = None
    arguments: str = ""
    #: Merged into the assembled call's ``ToolCall.provider_state`` (later deltas win per key).
    provider_state: Dict[str, Any] = Field(default_factory=dict)


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
    #: Merged into the assembled message's ``Message.provider_state`` (later chunks win per key).
    provider_state: Dict[str, Any] = Field(default_factory=dict)
    #: Which answer this increment belongs to (``n > 1``); 0 for the first, the usual case.
    choice: int = 0

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
        provider_state: Optional[Dict[str, Any]] = None,
        choice: int = 0,
    ) -> ChatChunk:
        """A chunk built without validation, for stream parsers whose values are already typed.

        A stream has hundreds of chunks; pydantic's validation (or even ``model_construct``)
        costs more per chunk than decoding its JSON. This sets the same attributes
        ``model_construct`` does, with every field given.
        """
        return cls.positional(
            text,
            reasoning,
            tool_calls if tool_calls is not None else [],
            finish_reason,
            finish_reason_raw,
            id,
            model,
            raw,
            choice,
            usage,
            provider_state if provider_state is not None else {},
        )

    @classmethod
    def positional(
        cls,
        text: str,
        reasoning: str,
        tool_calls: List[ToolCallDelta],
        finish_reason: Optional[FinishReason],
        finish_reason_raw: Optional[str],
        id: Optional[str],  # noqa: A002 - the field's name
        model: Optional[str],
        raw: Any,
        choice: int,
        usage: Optional[Usage] = None,
        provider_state: Optional[Dict[str, Any]] = None,
    ) -> ChatChunk:
        """:meth:`unchecked` with its values in order: the per-chunk call of a stream parser."""
        chunk = _new(cls)
        _setattr(chunk, "__dict__", {
            "text": text,
            "reasoning": reasoning,
            "tool_calls": tool_calls,
            "finish_reason": finish_reason,
            "finish_reason_raw": finish_reason_raw,
            "usage": usage,
            "id": id,
            "model": model,
            "raw": raw,
            "provider_state": provider_state if provider_state is not None else {},
            "choice": choice,
        })
        _setattr(chunk, "__pydantic_fields_set__", _CHUNK_FIELDS.copy())
        _setattr(chunk, "__pydantic_extra__", None)
        _setattr(chunk, "__pydantic_private__", unset_private(cls))
        return chunk

    @classmethod
    def from_response(cls, reply: ChatResponse) -> ChatChunk:
        """A whole reply as the single chunk a stream of it would have been (its first choice)."""
        chunk = cls.from_choices(reply)[0]
        chunk.usage = reply.usage
        return chunk

    @classmethod
    def from_choices(cls, reply: ChatResponse) -> List[ChatChunk]:
        """A whole reply as chunks, one per choice; usage rides on the last."""
        chunks = []
        for choice in reply.choices:
            message = choice.message
            calls = [
                ToolCallDelta(index=i, id=call.id, name=call.name,
                              arguments=call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False),
                              provider_state=call.provider_state)
                for i, call in enumerate(message.tool_calls or [])
            ]
            chunks.append(cls(
                text=message.text,
                reasoning=message.reasoning_content or "",
                tool_calls=calls,
                finish_reason=choice.finish_reason,
                finish_reason_raw=choice.finish_reason_raw,
                id=reply.id,
                model=reply.model,
                raw=reply.raw,
                provider_state=message.provider_state,
                choice=choice.index,
            ))
        chunks[-1].usage = reply.usage
        return chunks


# Copied per chunk (pydantic adds to a model's fields set on assignment, so it is not shared).
_CHUNK_FIELDS = set(ChatChunk.model_fields)
