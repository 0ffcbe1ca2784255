"""Messages of a conversation: roles, text and image parts, tool calls."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, List, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TextPart", "ImagePart", "Part", "ToolCall", "Message", "Role", "ROLES"]

Role = Literal["system", "user", "assistant", "tool"]
ROLES = ("system", "user", "assistant", "tool")

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)


class TextPart(BaseModel):
    """A piece of text inside a message's content list."""

    model_config = _MODEL_CONFIG
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image, either by URL (``http(s)://`` or ``data:``) or as raw bytes with a media type."""

    model_config = _MODEL_CONFIG
    type: Literal["image"] = "image"
    url: Optional[str] = None
    data: Optional[bytes] = None
    media_type: Optional[str] = None
    #: OpenAI's ``detail`` hint (``auto``, ``low``, ``high``); vendors without it ignore it.
    detail: Optional[str] = None

    @model_validator(mode="after")
    def _needs_a_source(self) -> ImagePart:
        if self.url is None and self.data is None:
            raise ValueError("image part has neither url nor data; pass url=... or data=... with media_type")
        if self.url is not None and self.data is not None:
            raise ValueError("image part has both url and data; pass only one")
        if self.data is not None and not self.media_type:
            raise ValueError("image part with data needs media_type, e.g. 'image/png'")
        return self

    @classmethod
    def from_base64(cls, b64: str, media_type: str, *, detail: Optional[str] = None) -> ImagePart:
        """Build from a base64 string (no ``data:`` prefix)."""
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"image data is not valid base64: {exc}") from None
        return cls(data=raw, media_type=media_type, detail=detail)

    def as_data_url(self) -> str:
        """The image as a URL: the given URL, or a ``data:`` URL built from the bytes."""
        if self.url is not None:
            return self.url
        assert self.data is not None
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def as_base64(self) -> Optional[tuple[str, str]]:
        """``(media_type, base64)`` for inline images, including ``data:`` URLs; None for web URLs."""
        if self.data is not None:
            return str(self.media_type), base64.b64encode(self.data).decode("ascii")
        url = self.url or ""
        if url.startswith("data:") and ";base64," in url:
            header, b64 = url[5:].split(";base64,", 1)
            return header or "application/octet-stream", b64
        return None


Part = Union[TextPart, ImagePart]


class ToolCall(BaseModel):
    """A call the model asked for: ``arguments`` parsed, ``raw_arguments`` exactly as sent."""

    model_config = _MODEL_CONFIG
    id: str
    name: str
    arguments: Dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""

    @model_validator(mode="before")
    @classmethod
    def _fill_arguments(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        has_raw = "raw_arguments" in values
        has_parsed = "arguments" in values
        if has_raw and not has_parsed:
            raw = values["raw_arguments"]
            if not isinstance(raw, str):
                raise ValueError("raw_arguments must be a JSON string")
            values = {**values, "arguments": parse_arguments(raw)}
        elif has_parsed and not has_raw:
            args = values["arguments"]
            if isinstance(args, str):  # the OpenAI habit of a JSON string
                values = {**values, "raw_arguments": args, "arguments": parse_arguments(args)}
            elif isinstance(args, dict):
                values = {**values, "raw_arguments": json.dumps(args, ensure_ascii=False)}
        return values


def parse_arguments(raw: str) -> Dict[str, Any]:
    """Parse tool-call arguments; an empty string means no arguments."""
    if raw.strip() == "":
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"arguments must be a JSON object, got {type(parsed).__name__}")
    return parsed


class Message(BaseModel):
    """One turn of a conversation.

    ``content`` is a string or a list of parts; ``None`` only for an assistant turn that only
    calls tools. ``reasoning_content`` and ``extra`` keep vendor-only fields that must go back
    to the vendor unchanged (DeepSeek and Moonshot require ``reasoning_content`` on tool-call
    turns in thinking mode).
    """

    model_config = _MODEL_CONFIG
    role: Role
    content: Union[str, List[Part], None] = None
    name: Optional[str] = None
    tool_calls: Optional[List[ToolCall]] = None
    tool_call_id: Optional[str] = None
    reasoning_content: Optional[str] = None
    #: Vendor-only keys of the message, passed through untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_role_fields(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs tool_call_id, the id of the call it answers")
        if self.role != "assistant" and self.tool_calls:
            raise ValueError("only assistant messages carry tool_calls")
        if self.role != "tool" and self.tool_call_id is not None:
            raise ValueError("only tool messages carry tool_call_id")
        if self.content is None and self.role != "assistant":
            raise ValueError(f"a {self.role} message needs content; pass content='...'")
        if self.content is None and not self.tool_calls and self.role == "assistant":
            raise ValueError("an assistant message needs content or tool_calls")
        return self

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role="system", content=text)

    @classmethod
    def user(cls, content: Union[str, List[Part]]) -> Message:
        return cls(role="user", content=content)

    @classmethod
    def assistant(cls, text: Optional[str] = None, tool_calls: Optional[List[ToolCall]] = None) -> Message:
        return cls(role="assistant", content=text, tool_calls=tool_calls)

    @classmethod
    def tool(cls, tool_call_id: str, content: str, *, name: Optional[str] = None) -> Message:
        return cls(role="tool", content=content, tool_call_id=tool_call_id, name=name)

    @property
    def text(self) -> str:
        """All text of the message joined, whether content is a string or parts."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))

    @property
    def parts(self) -> List[Part]:
        """Content as a list of parts (a string becomes one text part)."""
        if self.content is None:
            return []
        if isinstance(self.content, str):
            return [TextPart(text=self.content)] if self.content else []
        return list(self.content)
