"""The OpenAI chat format as llmplex's lingua franca: exact round trips both ways.

``to_openai(from_openai(x)) == x`` holds for every OpenAI-shaped message list that llmplex can
represent: keys the schema does not model are kept in ``extra`` (of the message, of a content part,
of a tool call) and written back; explicit ``null``s of ``name``, ``tool_calls``, ``tool_call_id``
and ``reasoning_content`` (as in ``openai`` SDK ``model_dump()`` output) are written back too;
tool-call arguments are kept as the exact string received.

The OpenAI-only keys an SDK ``model_dump()`` fills with ``null`` (:data:`OPENAI_ONLY_NULLS`:
``refusal``, ``annotations``, ``audio``, ``function_call``) mean "absent": they are remembered
for the round trip but never sent to a vendor (providers call
``message_to_openai(m, openai_nulls=False)``). openai SDK message objects (pydantic models with
a ``role``) are accepted wherever a message dict is.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Sequence, TypeVar, Union

from pydantic import BaseModel, ValidationError

from ..errors import InvalidRequestError

from .messages import (
    MODELLED_KEYS,
    NULLABLE_KEYS,
    FieldValueError,
    ImagePart,
    Message,
    Part,
    TextPart,
    ToolCall,
    parse_arguments,
)
from .tools import Tool, ToolChoice

__all__ = [
    "message_from_openai",
    "message_to_openai",
    "tool_to_openai",
    "tool_from_openai",
    "tool_choice_to_openai",
    "FieldValueError",
    "MessageLike",
    "OPENAI_ONLY_NULLS",
    "as_plain_message",
]

T = TypeVar("T")
_MODELLED_KEYS = MODELLED_KEYS
_CALL_KEYS = ("id", "type", "function")

MessageLike = Union[Message, Mapping[str, Any]]
_NO_NULLS: FrozenSet[str] = frozenset()

#: Keys of OpenAI's assistant message that other vendors do not know; ``null`` means absent.
OPENAI_ONLY_NULLS = ("refusal", "annotations", "audio", "function_call")


def as_plain_message(item: Any) -> Any:
    """A message object of another library (the openai SDK's ``ChatCompletionMessage``: a
    pydantic model with a ``role``) as the dict it dumps to; anything else as it is."""
    if isinstance(item, (Message, Mapping)) or not isinstance(item, BaseModel):
        return item
    if "role" not in type(item).model_fields:
        return item
    return item.model_dump()


def message_from_openai(data: MessageLike) -> Message:
    """One OpenAI chat message (a dict) as a Message (a Message is returned as it is).

    Low level: raises ``FieldValueError`` (a ValueError whose ``path`` names the field inside the
    message) or pydantic's ``ValidationError``. :func:`from_openai` raises InvalidRequestError.
    """
    if isinstance(data, Message):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(f"a message must be a dict or Message, got {type(data).__name__}")
    fields: Dict[str, Any] = {}
    nulls = []
    for key in _MODELLED_KEYS:
        if key not in data:
            continue
        if data[key] is None and key in NULLABLE_KEYS:
            nulls.append(key)
            continue
        fields[key] = data[key]
    content = fields.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise FieldValueError(
            "content", f"content must be a string or a list of parts, got {type(content).__name__}; pass content='...'"
        )
    if isinstance(content, list):
        fields["content"] = [_at(f"content[{i}]", _part_from_openai, p) for i, p in enumerate(fields["content"])]
    if isinstance(fields.get("tool_calls"), list):
        fields["tool_calls"] = [
            _at(f"tool_calls[{i}]", _tool_call_from_openai, c) for i, c in enumerate(fields["tool_calls"])
        ]
    for key in OPENAI_ONLY_NULLS:
        if key in data and data[key] is None:
            nulls.append(key)
    extra = {k: v for k, v in data.items() if k not in _MODELLED_KEYS and not (k in OPENAI_ONLY_NULLS and v is None)}
    if extra:
        fields["extra"] = extra
    message = Message(**fields)
    if nulls:
        message._null_keys = frozenset(nulls)
    return message


def _at(path: str, convert: Callable[[Any], T], value: Any) -> T:
    """``convert(value)``, with any error re-raised as FieldValueError under ``path``."""
    try:
        return convert(value)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        error = first.get("ctx", {}).get("error")
        if isinstance(error, FieldValueError):
            inner, message = error.path, error.reason
        elif isinstance(error, InvalidRequestError):  # a nested model's constructor
            inner, message = error.field or "", getattr(error, "reason", error.message)
        else:
            inner = ".".join(str(p) for p in first.get("loc", ()))
            message = str(first.get("msg", "invalid value"))
        message = message[len("Value error, ") :] if message.startswith("Value error, ") else message
        raise FieldValueError(f"{path}.{inner}" if inner else path, message) from None
    except FieldValueError as exc:
        raise FieldValueError(f"{path}.{exc.path}" if exc.path else path, exc.reason) from None
    except InvalidRequestError as exc:  # a model's constructor named its own field
        reason = getattr(exc, "reason", exc.message)
        raise FieldValueError(f"{path}.{exc.field}" if exc.field else path, reason) from None
    except ValueError as exc:
        raise FieldValueError(path, str(exc)) from None


def _part_from_openai(part: Any) -> Part:
    if isinstance(part, (TextPart, ImagePart)):
        return part
    if not isinstance(part, Mapping):
        raise ValueError(f"a content part must be a dict, got {type(part).__name__}")
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise FieldValueError("text", "a text part needs text as a string, e.g. {'type': 'text', 'text': '...'}")
        extra = {k: v for k, v in part.items() if k not in ("type", "text")}
        return TextPart(text=text, extra=extra) if extra else TextPart(text=text)
    if kind == "image_url":
        image = part.get("image_url")
        extra = {k: v for k, v in part.items() if k not in ("type", "image_url")}
        if isinstance(image, str):
            image = {"url": image}
        if not isinstance(image, Mapping):
            raise FieldValueError(
                "image_url", "an image_url part needs image_url={'url': 'https://...' or 'data:...'}"
            )
        url = image.get("url")
        if not isinstance(url, str) or not url.strip():
            raise FieldValueError(
                "image_url.url",
                "an image part needs a url ('https://...' or a 'data:' URL); for bytes use ImagePart(data=...)",
            )
        detail = image.get("detail")
        fields: Dict[str, Any] = {"url": url}
        if detail is not None:
            fields["detail"] = detail
        if extra:
            fields["extra"] = extra
        return ImagePart(**fields)
    if kind == "image":  # llmplex's own shape (ImagePart.model_dump())
        return ImagePart.model_validate(dict(part))
    shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else type(kind).__name__
    raise FieldValueError("type", f"content part type {shown} is not supported; use 'text' or 'image_url'")


def _tool_call_from_openai(call: Any) -> ToolCall:
    if isinstance(call, ToolCall):
        return call
    if not isinstance(call, Mapping):
        raise ValueError(
            f"a tool call must be a dict like {{'id', 'type': 'function', 'function': {{'name', 'arguments'}}}}, "
            f"got {type(call).__name__}"
        )
    kind = call.get("type", "function")
    if kind != "function":
        raise FieldValueError("type", "only tool calls of type 'function' are supported")
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise FieldValueError("id", "a tool call needs an id (a non-empty string) that tool results can answer")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise FieldValueError("function", "a tool call needs function={'name': ..., 'arguments': '{...}'}")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise FieldValueError("function.name", "a tool call needs the function's name")
    arguments = function.get("arguments", "")
    extra = {k: v for k, v in call.items() if k not in _CALL_KEYS}
    fields: Dict[str, Any] = {"id": call_id, "name": name}
    if extra:
        fields["extra"] = extra
    if isinstance(arguments, Mapping):
        fields["arguments"] = dict(arguments)
    elif isinstance(arguments, str):
        try:
            fields["arguments"] = parse_arguments(arguments)
        except ValueError as exc:
            raise FieldValueError("function.arguments", str(exc)) from None
        fields["raw_arguments"] = arguments
    else:
        raise FieldValueError(
            "function.arguments", "arguments must be a JSON object in a string, e.g. '{\"city\": \"Paris\"}'"
        )
    return ToolCall(**fields)


def message_to_openai(message: MessageLike, *, openai_nulls: bool = True) -> Dict[str, Any]:
    """A Message (or an OpenAI-shaped dict, checked) as an OpenAI chat message dict.

    ``openai_nulls=False`` leaves out the OpenAI-only ``null`` keys a dict came with (for the
    wire of any vendor; they mean "absent" there too)."""
    if not isinstance(message, Message):
        message = message_from_openai(message)
    # The private attribute read directly: ``message._null_keys`` goes through pydantic's
    # __getattr__, a good part of translating a plain message.
    private = message.__pydantic_private__
    nulls: FrozenSet[str] = private.get("_null_keys", _NO_NULLS) if private else _NO_NULLS
    content = message.content
    if (
        type(content) is str
        and not nulls
        and message.name is None
        and message.tool_calls is None
        and message.tool_call_id is None
        and message.reasoning_content is None
        and not message.extra
    ):
        return {"role": message.role, "content": content}  # the common plain turn
    out: Dict[str, Any] = {"role": message.role}
    if content is not None or "content" in message.model_fields_set:
        out["content"] = content if not isinstance(content, list) else [_part_to_openai(p) for p in content]
    if message.name is not None or "name" in nulls:
        out["name"] = message.name
    if message.tool_calls is not None:
        out["tool_calls"] = [_tool_call_to_openai(c) for c in message.tool_calls]
    elif "tool_calls" in nulls:
        out["tool_calls"] = None
    if message.tool_call_id is not None or "tool_call_id" in nulls:
        out["tool_call_id"] = message.tool_call_id
    if message.reasoning_content is not None or "reasoning_content" in nulls:
        out["reasoning_content"] = message.reasoning_content
    if openai_nulls:
        for key in OPENAI_ONLY_NULLS:
            if key in nulls:
                out[key] = None
    out.update(message.extra)
    return out


def _tool_call_to_openai(call: ToolCall) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.raw_arguments},
    }
    out.update(call.extra)
    return out


def _part_to_openai(part: Part) -> Dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text, **part.extra}
    image: Dict[str, Any] = {"url": part.as_data_url()}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image, **part.extra}


def tool_to_openai(tool: Union[Tool, Mapping[str, Any]]) -> Dict[str, Any]:
    """A Tool (or an OpenAI-shaped tool dict) as OpenAI's ``{"type": "function", ...}``."""
    if not isinstance(tool, Tool):
        tool = tool_from_openai(tool)
    function: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def tool_from_openai(data: Union[Tool, Mapping[str, Any]]) -> Tool:
    """``{"type": "function", "function": {...}}`` or the bare function dict as a Tool."""
    if isinstance(data, Tool):
        return data
    if not isinstance(data, Mapping):
        raise ValueError(
            f"a tool must be a Tool, a function, or a dict like {{'type': 'function', 'function': {{'name', "
            f"'parameters'}}}}, got {type(data).__name__}"
        )
    kind = data.get("type", "function")
    if kind != "function":
        raise FieldValueError("type", "only tools of type 'function' are supported")
    function = data.get("function", data)
    if not isinstance(function, Mapping):
        raise FieldValueError("function", "a tool needs function={'name': ..., 'parameters': {...}}")
    fields = {k: function[k] for k in ("name", "description", "parameters", "strict") if k in function}
    return Tool(**fields)


def tool_choice_to_openai(choice: Union[ToolChoice, str, Mapping[str, Any]]) -> Union[str, Dict[str, Any]]:
    """A ToolChoice (or any accepted shorthand) as OpenAI's ``tool_choice`` value."""
    if not isinstance(choice, ToolChoice):
        choice = ToolChoice.model_validate(choice)
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode
