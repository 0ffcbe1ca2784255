"""The provider-neutral chat request."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .messages import Message
from .tools import Tool, ToolChoice

__all__ = ["ChatRequest", "ResponseFormat", "JSONSchemaFormat"]

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)


class JSONSchemaFormat(BaseModel):
    """A JSON Schema the reply must follow (OpenAI ``json_schema`` response format)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)
    name: str
    json_schema: Dict[str, Any] = Field(alias="schema")
    description: Optional[str] = None
    strict: Optional[bool] = None


class ResponseFormat(BaseModel):
    """``text``, ``json_object`` or ``json_schema`` (with ``json_schema`` set)."""

    model_config = _MODEL_CONFIG
    type: Literal["text", "json_object", "json_schema"]
    json_schema: Optional[JSONSchemaFormat] = None


class ChatRequest(BaseModel):
    """Everything a provider needs to build one call. ``model`` is the vendor's model name."""

    model_config = _MODEL_CONFIG
    model: str = Field(min_length=1)
    messages: List[Message]
    tools: Optional[List[Tool]] = None
    tool_choice: Optional[ToolChoice] = None
    #: Whether the model may call several tools in one turn (OpenAI-compatible vendors).
    parallel_tool_calls: Optional[bool] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    max_tokens: Optional[int] = Field(default=None, gt=0)
    stop: Union[str, List[str], None] = None
    seed: Optional[int] = None
    n: Optional[int] = Field(default=None, gt=0)
    response_format: Optional[ResponseFormat] = None
    user: Optional[str] = None
    #: Set by the client: whether the provider must build a streaming request.
    stream: bool = False
    #: Vendor-only request fields, merged into the wire body untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)

    @field_validator("temperature")
    @classmethod
    def _temperature_range(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 2.0):
            raise ValueError(f"temperature {value} is out of range; use a number from 0 to 2")
        return value

    @field_validator("top_p")
    @classmethod
    def _top_p_range(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"top_p {value} is out of range; use a number from 0 to 1")
        return value

    def stop_list(self) -> List[str]:
        """``stop`` as a list, whatever form the caller gave."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)
