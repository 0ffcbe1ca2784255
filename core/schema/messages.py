"""Messages of a conversation: roles, text and image parts, tool calls."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, FrozenSet, List, Literal, Mapping, Optional, Union

from pydantic import ConfigDict, Field, PrivateAttr, field_serializer, field_validator, model_validator

from ..errors import InvalidRequestError
from .invalid import ROLES, FieldValueError
from .jsonvalue import check_json
from .model import CheckedModel

__all__ = [
    "TextPart",
    "ImagePart",
    "Part",
    "ToolCall",
    "Message",
    "Role",
    "ROLES",
    "FieldValueError",
    "parse_arguments",
]

Role = Literal["system", "user", "assistant", "tool"]  # the same names as ROLES

_MODEL_CONFIG = ConfigDict(extra="forbid", hide_input_in_errors=True)


class TextPart(CheckedModel):
    """A piece of text inside a message's content list."""

    model_config = _MODEL_CONFIG
    _json_fields = ("extra",)
    type: Literal["text"] = "text"
    text: str
    #: Vendor-only keys of the part (e.g. ``cache_control``), passed through untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)


def _decode_base64(b64: str) -> bytes:
    """Strict base64 (whitespace such as MIME line breaks is ignored); ValueError otherwise."""
    compact = "".join(b64.split())
    if ("-" in compact or "_" in compact) and not ("+" in compact or "/" in compact):
        compact = compact.replace("-", "+").replace("_", "/")  # the URL-safe alphabet
    if compact.startswith("data:"):
        raise ValueError("got a data: URL, not bare base64; pass it as url=... instead")
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"image data is not valid base64 ({exc})") from None
    if not raw:
        raise ValueError("image data is empty; pass the image's bytes")
    return raw


class ImagePart(CheckedModel):
    """An image, either by URL (``http(s)://`` or ``data:``) or as raw bytes with a media type.

    ``data`` given as a ``str`` is read as base64, and JSON dumps write it as base64, so
    ``model_validate_json(model_dump_json())`` gives the same bytes back.
    """

    model_config = _MODEL_CONFIG
    _json_fields = ("extra",)
    type: Literal["image"] = "image"
    url: Optional[str] = None
    data: Optional[bytes] = None
    media_type: Optional[str] = None
    #: OpenAI's ``detail`` hint (``auto``, ``low``, ``high``); vendors without it ignore it.
    detail: Optional[str] = None
    #: Vendor-only keys of the part, passed through untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)

    @field_serializer("data", when_used="json")
    def _data_as_base64(self, data: Optional[bytes]) -> Optional[str]:
        return None if data is None else base64.b64encode(data).decode("ascii")

    @field_validator("data", mode="before")
    @classmethod
    def _base64_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return _decode_base64(value)
            except ValueError as exc:
                raise FieldValueError("data", str(exc)) from None
        return value

    @classmethod
    def from_path(cls, path: Any, *, max_bytes: Optional[int] = None, detail: Optional[str] = None) -> ImagePart:
        """An image part from a file: the media type sniffed from its bytes, its size bounded
        (``llmplex.schema.images.MAX_IMAGE_BYTES`` unless ``max_bytes`` is given)."""
        from .images import MAX_IMAGE_BYTES, read_image

        data, media_type = read_image(path, max_bytes=MAX_IMAGE_BYTES if max_bytes is None else max_bytes)
        return cls(data=data, media_type=media_type, detail=detail)

    @model_validator(mode="after")
    def _needs_a_source(self) -> ImagePart:
        has_url = self.url is not None and self.url.strip() != ""
        if not has_url and self.data is None:
            raise FieldValueError(
                "url", "image part has neither url nor data; pass url=... or data=... with media_type"
            )
        if has_url and self.data is not None:
            raise FieldValueError("data", "image part has both url and data; pass only one")
        if self.data is not None:
            if len(self.data) == 0:
                raise FieldValueError("data", "image data is empty; pass the image's bytes")
            if not self.media_type:
                raise FieldValueError("media_type", "image part with data needs media_type, e.g. 'image/png'")
        if self.media_type is not None and "/" not in self.media_type:
            raise FieldValueError("media_type", "media_type must look like 'image/png'")
        return self

    @classmethod
    def from_base64(cls, b64: str, media_type: str, *, detail: Optional[str] = None) -> ImagePart:
        """Build from a base64 string (no ``data:`` prefix); InvalidRequestError (a ValueError,
        ``.field == "data"``) if it is not base64."""
        if not isinstance(b64, str):
            raise InvalidRequestError(
                f"data: from_base64 takes base64 text, got {type(b64).__name__}; pass raw bytes as ImagePart(data=...)",
                field="data",
            )
        # The data validator decodes base64 text (and names the field if it is not base64).
        return cls(data=b64, media_type=media_type, detail=detail)  # type: ignore[arg-type]

    def as_data_url(self) -> str:
        """The image as a URL: the given URL, or a ``data:`` URL built from the bytes."""
        if self.url is not None and self.data is None:
            return self.url
        assert self.data is not None
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def as_base64(self) -> Optional[tuple[str, str]]:
        """``(media_type, base64)`` for inline images, including ``data:`` URLs; None for web URLs
        (and for ``data:`` URLs that are not base64-encoded)."""
        if self.data is not None:
            return str(self.media_type), base64.b64encode(self.data).decode("ascii")
        url = self.url or ""
        if url[:5].lower() != "data:":
            return None
        header, comma, payload = url[5:].partition(",")
        params = [p.strip() for p in header.split(";")]
        if not comma or not params or params[-1].lower() != "base64":
            return None
        media_type = params[0] if len(params) > 1 and params[0] else "application/octet-stream"
        return media_type, payload


Part = Union[TextPart, ImagePart]


def parse_arguments(raw: str) -> Dict[str, Any]:
    """Parse tool-call arguments; an empty string means no arguments.

    Raises ValueError when the text is not JSON or not a JSON object.
    """
    if not isinstance(raw, str):
        raise ValueError(f"arguments must be a JSON string, got {type(raw).__name__}")
    if raw.strip() == "":
        return {}
    try:
        parsed = json.loads(raw)
    except RecursionError:
        raise ValueError("arguments are not valid JSON (nested too deeply); send a JSON object such as {}") from None
    except ValueError as exc:
        raise ValueError(f"arguments are not valid JSON ({exc}); send a JSON object such as {{}}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"arguments must be a JSON object, got {_json_kind(parsed)}; wrap them as {{...}}")
    return parsed


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


class ToolCall(CheckedModel):
    """A call the model asked for: ``arguments`` parsed, ``raw_arguments`` exactly as sent.

    Give either one and the other is filled in: ``raw_arguments`` is parsed (an empty string means
    ``{}``); a dict ``arguments`` is serialised; a string ``arguments`` (the OpenAI habit) is taken
    as the raw text. Given both, both are kept as they are.
    """

    model_config = _MODEL_CONFIG
    _json_fields = ("arguments", "extra")
    id: str
    name: str
    arguments: Dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""
    #: Vendor-only keys of the call (e.g. Gemini's ``extra_content``), passed through untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)
    #: Opaque state a vendor needs back on later turns (see ``Message.provider_state``).
    provider_state: Dict[str, Any] = Field(default_factory=dict)

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
                raise FieldValueError("raw_arguments", "raw_arguments must be a JSON string")
            try:
                parsed = parse_arguments(raw)
            except ValueError as exc:
                raise FieldValueError("raw_arguments", str(exc)) from None
            values = {**values, "arguments": parsed}
        elif has_parsed and not has_raw:
            args = values["arguments"]
            if isinstance(args, str):  # the OpenAI habit of a JSON string
                try:
                    parsed = parse_arguments(args)
                except ValueError as exc:
                    raise FieldValueError("arguments", str(exc)) from None
                values = {**values, "raw_arguments": args, "arguments": parsed}
            elif isinstance(args, Mapping):
                check_json(dict(args), "arguments")  # before json.dumps: NaN, cycles, depth
                try:
                    raw_text = json.dumps(dict(args), ensure_ascii=False)
                except (TypeError, ValueError) as exc:
                    raise FieldValueError("arguments", f"arguments must be JSON-serialisable ({exc})") from None
                values = {**values, "arguments": dict(args), "raw_arguments": raw_text}
            elif args is None:
                values = {**values, "arguments": {}, "raw_arguments": ""}
        elif has_raw and has_parsed and values["raw_arguments"] == "" and isinstance(values["arguments"], Mapping):
            # Both given but the text empty: the parsed arguments are the truth (else they'd be lost).
            if values["arguments"]:
                check_json(dict(values["arguments"]), "arguments")
                try:
                    raw_text = json.dumps(dict(values["arguments"]), ensure_ascii=False)
                except (TypeError, ValueError) as exc:
                    raise FieldValueError("arguments", f"arguments must be JSON-serialisable ({exc})") from None
                values = {**values, "raw_arguments": raw_text}
        return values


#: Message fields that an OpenAI-shaped dict may carry as explicit ``null``s.
NULLABLE_KEYS = ("name", "tool_calls", "tool_call_id", "reasoning_content")
#: The keys of an OpenAI chat message that Message models; all others go to ``extra``.
MODELLED_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content")


class Message(CheckedModel):
    """One turn of a conversation.

    ``content`` is a string or a list of parts; ``None`` only for an assistant turn that only
    calls tools. ``reasoning_content`` and ``extra`` keep vendor-only fields that must go back
    to the vendor unchanged (DeepSeek and Moonshot require ``reasoning_content`` on tool-call
    turns in thinking mode).
    """

    model_config = _MODEL_CONFIG
    _json_fields = ("extra",)
    role: Role
    content: Union[str, List[Part], None] = None
    name: Optional[str] = None
    tool_calls: Optional[List[ToolCall]] = None
    tool_call_id: Optional[str] = None
    reasoning_content: Optional[str] = None
    #: Vendor-only keys of the message, passed through untouched.
    extra: Dict[str, Any] = Field(default_factory=dict)
    #: Opaque state a vendor needs back on later turns (Anthropic's signed thinking blocks,
    #: Gemini's thought signatures), keyed by the wire format that produced it (``"anthropic"``).
    #: Unlike ``extra`` it is never put on the wire as it is: only the translator that owns a key
    #: reads that entry, so a history can move between providers without one vendor's private
    #: fields reaching another.
    provider_state: Dict[str, Any] = Field(default_factory=dict)
    # Keys of NULLABLE_KEYS that the source dict held as explicit nulls (for exact round trips).
    _null_keys: FrozenSet[str] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="after")
    def _check_role_fields(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise FieldValueError(
                "tool_call_id", "a tool message needs tool_call_id, the id of the tool call it answers"
            )
        if self.role != "assistant" and self.tool_calls:
            raise FieldValueError("tool_calls", f"only assistant messages carry tool_calls, not {self.role} messages")
        if self.role != "tool" and self.tool_call_id is not None:
            raise FieldValueError(
                "tool_call_id", f"only tool messages carry tool_call_id; remove it from this {self.role} message"
            )
        if self.content is None and self.role != "assistant":
            raise FieldValueError("content", f"a {self.role} message needs content; pass content='...'")
        if self.content is None and not self.tool_calls and self.role == "assistant":
            raise FieldValueError("content", "an assistant message needs content or tool_calls; pass content='...'")
        clashing = sorted(k for k in self.extra if k in MODELLED_KEYS)
        if clashing:
            raise FieldValueError(
                f"extra.{clashing[0]}", f"{clashing[0]!r} is a Message field; set it directly, not in extra"
            )
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
