"""The provider-neutral chat request."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .messages import Message
from .model import CheckedModel
from .tools import Tool, ToolChoice

__all__ = ["ChatRequest", "ResponseFormat", "JSONSchemaFormat"]

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)
_FORMAT_TYPES = ("text", "json_object", "json_schema")


class JSONSchemaFormat(CheckedModel):
    """A JSON Schema the reply must follow (OpenAI ``json_schema`` response format)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, populate_by_name=True)
    _json_fields = ("json_schema",)
    name: str = Field(min_length=1)
    json_schema: Dict[str, Any] = Field(alias="schema")
    description: Optional[str] = None
    strict: Optional[bool] = None


class ResponseFormat(CheckedModel):
    """``text``, ``json_object`` or ``json_schema`` (with ``json_schema`` set).

    The strings ``"text"`` and ``"json_object"`` are accepted as shorthands.
    """

    model_config = _MODEL_CONFIG
    type: Literal["text", "json_object", "json_schema"]
    json_schema: Optional[JSONSchemaFormat] = None

    @model_validator(mode="before")
    @classmethod
    def _accept_shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in _FORMAT_TYPES:
                raise ValueError("response_format type must be 'text', 'json_object' or 'json_schema'")
            return {"type": value}
        return value

    @model_validator(mode="after")
    def _schema_matches_type(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError(
                "response_format 'json_schema' needs json_schema={'name': ..., 'schema': {...}}"
            )
        if self.type != "json_schema" and self.json_schema is not None:
            raise ValueError(f"response_format {self.type!r} takes no json_schema; use type='json_schema'")
        return self


def _no_bool(name: str, value: Any) -> Any:
    # bool is an int subclass: True would silently become 1 (or 1.0).
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not a boolean")
    return value


class ChatRequest(CheckedModel):
    """Everything a provider needs to build one call. ``model`` is the vendor's model name."""

    model_config = _MODEL_CONFIG
    _json_fields = ("extra",)
    model: str = Field(min_length=1)
    messages: List[Message] = Field(min_length=1)
    tools: Optional[List[Tool]] = None
    tool_choice: Optional[ToolChoice] = None
    #: Whether the model may call several tools in one turn (OpenAI-compatible vendors).
    parallel_tool_calls: Optional[bool] = None
    temperature: Optional[float] = None
    top_p: Optional[float] = None
    max_tokens: Optional[int] = None
    stop: Union[str, List[str], None] = None
    seed: Optional[int] = None
    n: Optional[int] = None
    response_format: Optional[ResponseFormat] = None
    user: Optional[str] = None
    #: Set by the client: whether the provider must build a streaming request.
    stream: bool = False
    #: Vendor-only request fields, merged into the wire body untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)
    #: Per-call HTTP headers added to the provider's (never replacing one it sets).
    headers: Dict[str, str] = Field(default_factory=dict)

    @field_validator("temperature", "top_p", "max_tokens", "n", "seed", mode="before")
    @classmethod
    def _not_bool(cls, value: Any, info: ValidationInfo) -> Any:
        return _no_bool(str(info.field_name), value)

    @field_validator("temperature")
    @classmethod
    def _temperature_range(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 2.0):
            raise ValueError(f"temperature must be a number from 0 to 2, got {value}")
        return value

    @field_validator("top_p")
    @classmethod
    def _top_p_range(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"top_p must be a number from 0 to 1, got {value}")
        return value

    @field_validator("max_tokens", "n")
    @classmethod
    def _positive(cls, value: Optional[int], info: ValidationInfo) -> Optional[int]:
        if value is not None and value <= 0:
            raise ValueError(
                f"{info.field_name} must be a positive integer, got {value}; pass 1 or more, or leave it unset"
            )
        return value

    def stop_list(self) -> List[str]:
        """``stop`` as a list, whatever form the caller gave."""
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)
