"""The OpenAI chat format as llmplex's lingua franca: exact round trips both ways.

``to_openai(from_openai(x)) == x`` holds for every OpenAI-shaped message list that llmplex can
represent: keys the schema does not model are kept in ``Message.extra`` and written back.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Sequence, TypeVar, Union

from pydantic import ValidationError

from .messages import ImagePart, Message, Part, TextPart, ToolCall
from .tools import Tool, ToolChoice

__all__ = [
    "from_openai",
    "to_openai",
    "message_from_openai",
    "message_to_openai",
    "tool_to_openai",
    "tool_from_openai",
    "tool_choice_to_openai",
]

T = TypeVar("T")
_MODELLED_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content")


def message_from_openai(data: Mapping[str, Any]) -> Message:
    """One OpenAI chat message (a dict) as a Message; raises ValueError/ValidationError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a message must be a dict or Message, got {type(data).__name__}")
    fields: Dict[str, Any] = {k: data[k] for k in _MODELLED_KEYS if k in data}
    if isinstance(fields.get("content"), list):
        fields["content"] = [_at(f"content[{i}]", _part_from_openai, p) for i, p in enumerate(fields["content"])]
    if isinstance(fields.get("tool_calls"), list):
        fields["tool_calls"] = [
            _at(f"tool_calls[{i}]", _tool_call_from_openai, c) for i, c in enumerate(fields["tool_calls"])
        ]
    extra = {k: v for k, v in data.items() if k not in _MODELLED_KEYS}
    if extra:
        fields["extra"] = extra
    return Message(**fields)


class FieldValueError(ValueError):
    """A ValueError that knows which field inside a message it is about."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


def _at(path: str, convert: Callable[[Any], T], value: Any) -> T:
    try:
        return convert(value)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        inner = ".".join(str(p) for p in first.get("loc", ()) if p not in ("TextPart", "ImagePart"))
        message = str(first.get("msg", "invalid value")).replace("Value error, ", "")
        raise FieldValueError(f"{path}.{inner}" if inner else path, message) from None
    except FieldValueError:
        raise
    except ValueError as exc:
        raise FieldValueError(path, str(exc)) from None


def _part_from_openai(part: Any) -> Part:
    if not isinstance(part, Mapping):
        raise ValueError(f"a content part must be a dict, got {type(part).__name__}")
    kind = part.get("type")
    if kind == "text":
        return TextPart(text=part.get("text"))  # type: ignore[arg-type]
    if kind == "image_url":
        image = part.get("image_url")
        if isinstance(image, str):
            return ImagePart(url=image)
        if not isinstance(image, Mapping):
            raise ValueError("image_url part needs an image_url object with a url")
        return ImagePart(url=image.get("url"), detail=image.get("detail"))
    raise ValueError(f"content part type {kind!r} is not supported; use 'text' or 'image_url'")


def _tool_call_from_openai(call: Any) -> ToolCall:
    if not isinstance(call, Mapping) or not isinstance(call.get("function"), Mapping):
        raise ValueError("a tool call needs {'id', 'type': 'function', 'function': {'name', 'arguments'}}")
    function = call["function"]
    arguments = function.get("arguments", "")
    if isinstance(arguments, Mapping):
        return ToolCall(id=call.get("id"), name=function.get("name"), arguments=dict(arguments))
    return ToolCall(id=call.get("id"), name=function.get("name"), raw_arguments=arguments)


def message_to_openai(message: Message) -> Dict[str, Any]:
    """A Message as an OpenAI chat message dict."""
    out: Dict[str, Any] = {"role": message.role}
    content = message.content
    if content is not None or "content" in message.model_fields_set:
        out["content"] = content if not isinstance(content, list) else [_part_to_openai(p) for p in content]
    if message.name is not None:
        out["name"] = message.name
    if message.tool_calls is not None:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.raw_arguments}}
            for c in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.reasoning_content is not None:
        out["reasoning_content"] = message.reasoning_content
    out.update(message.extra)
    return out


def _part_to_openai(part: Part) -> Dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: Dict[str, Any] = {"url": part.as_data_url()}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


MessageLike = Union[Message, Mapping[str, Any]]


def from_openai(messages: Sequence[Mapping[str, Any]]) -> List[Message]:
    """An OpenAI ``messages`` list as Messages."""
    return [message_from_openai(m) for m in messages]


def to_openai(messages: Sequence[Message]) -> List[Dict[str, Any]]:
    """Messages as an OpenAI ``messages`` list."""
    return [message_to_openai(m) for m in messages]


def tool_to_openai(tool: Tool) -> Dict[str, Any]:
    function: Dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def tool_from_openai(data: Mapping[str, Any]) -> Tool:
    function = data.get("function", data)
    if not isinstance(function, Mapping):
        raise ValueError("a tool needs {'type': 'function', 'function': {'name', 'parameters'}}")
    fields = {k: function[k] for k in ("name", "description", "parameters", "strict") if k in function}
    return Tool(**fields)


def tool_choice_to_openai(choice: ToolChoice) -> Union[str, Dict[str, Any]]:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode
