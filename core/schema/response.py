"""Replies: the whole response, stream chunks and usage."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from .messages import Message, ToolCall

__all__ = [
    "FinishReason",
    "Usage",
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
    #: ``Capabilities.dropped``), one sentence each.
    warnings: List[str] = Field(default_factory=list)
    #: The reply validated into ``response_model`` (``client.chat(..., response_model=M)``).
    parsed: Any = None

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
            "provider_state": provider_state if provider_state is not None else {},
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
                          arguments=call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False),
                          provider_state=call.provider_state)
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
            provider_state=message.provider_state,
        )
