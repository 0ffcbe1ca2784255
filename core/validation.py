"""Turn whatever the caller passed into a checked ChatRequest, or say exactly what is wrong.

Every problem becomes ``InvalidRequestError`` with ``.field`` in ``messages[2].role`` form and a
message of the shape ``"<field>: <what is wrong>; <how to fix>"``. The caller's values are never
echoed whole (they may hold secrets or megabytes of image data).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Set

from pydantic import ValidationError

from .errors import InvalidRequestError
from .messages import ROLES, Message
from .openai_format import FieldValueError, message_from_openai, tool_from_openai
from .request import ChatRequest
from .tools import Tool, ToolChoice

__all__ = ["make_request", "coerce_messages", "coerce_tools", "check_conversation"]


def _location(prefix: str, loc: Sequence[Any]) -> str:
    out = prefix
    for item in loc:
        if isinstance(item, int):
            out += f"[{item}]"
        elif item in ("TextPart", "ImagePart", "str", "list[union[TextPart,ImagePart]]"):
            continue  # union branch names pydantic adds to locations; not the caller's fields
        else:
            out += f".{item}" if out else str(item)
    return out


def _from_validation_error(prefix: str, error: ValidationError, data: Any) -> InvalidRequestError:
    first = error.errors(include_input=False)[0]
    loc = first.get("loc", ())
    field = _location(prefix, loc)
    kind = first.get("type", "")
    if loc and loc[-1] == "role" and isinstance(data, Mapping):
        role = data.get("role")
        shown = repr(role) if isinstance(role, str) and len(role) < 40 else type(role).__name__
        return InvalidRequestError(
            f"{field}: {shown} is not a role; expected one of {', '.join(repr(r) for r in ROLES)}",
            field=field,
        )
    if kind == "extra_forbidden":
        return InvalidRequestError(f"{field}: unknown field; remove it or pass vendor-only keys in extra", field=field)
    message = first.get("msg", "invalid value")
    message = message.removeprefix("Value error, ") if hasattr(message, "removeprefix") else message
    return InvalidRequestError(f"{field}: {message}", field=field)


def coerce_messages(messages: Any) -> List[Message]:
    """Messages or OpenAI-shaped dicts as validated Messages."""
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidRequestError(
            "messages: expected a list of messages; wrap a single prompt as [{'role': 'user', 'content': ...}]",
            field="messages",
        )
    if not messages:
        raise InvalidRequestError("messages: the list is empty; pass at least one user message", field="messages")
    out: List[Message] = []
    for index, item in enumerate(messages):
        prefix = f"messages[{index}]"
        if isinstance(item, Message):
            out.append(item)
            continue
        try:
            out.append(message_from_openai(item))
        except ValidationError as exc:
            raise _from_validation_error(prefix, exc, item) from None
        except FieldValueError as exc:
            field = f"{prefix}.{exc.path}"
            raise InvalidRequestError(f"{field}: {exc.reason}", field=field) from None
        except ValueError as exc:
            raise InvalidRequestError(f"{prefix}: {exc}", field=prefix) from None
    return out


def coerce_tools(tools: Any) -> Optional[List[Tool]]:
    if tools is None:
        return None
    out: List[Tool] = []
    for index, item in enumerate(tools):
        prefix = f"tools[{index}]"
        if isinstance(item, Tool):
            out.append(item)
        elif callable(item):
            out.append(Tool.from_function(item))
        else:
            try:
                out.append(tool_from_openai(item))
            except ValidationError as exc:
                raise _from_validation_error(prefix, exc, item) from None
            except (ValueError, AttributeError) as exc:
                raise InvalidRequestError(f"{prefix}: {exc}", field=prefix) from None
    return out


def check_conversation(messages: Sequence[Message]) -> None:
    """Checks that span messages: tool results answer earlier calls, no duplicate call ids."""
    known: Set[str] = set()
    for index, message in enumerate(messages):
        if message.role == "assistant" and message.tool_calls:
            for position, call in enumerate(message.tool_calls):
                if call.id in known:
                    field = f"messages[{index}].tool_calls[{position}].id"
                    raise InvalidRequestError(
                        f"{field}: {call.id!r} is used by an earlier tool call; tool call ids must be unique",
                        field=field,
                    )
                known.add(call.id)
        elif message.role == "tool" and message.tool_call_id not in known:
            field = f"messages[{index}].tool_call_id"
            listing = ", ".join(repr(k) for k in sorted(known)) or "none"
            raise InvalidRequestError(
                f"{field}: {message.tool_call_id!r} matches no tool call in an earlier assistant message "
                f"(known: {listing}); answer a call the model made",
                field=field,
            )


_PARAMS = (
    "temperature",
    "top_p",
    "max_tokens",
    "stop",
    "seed",
    "n",
    "response_format",
    "user",
    "parallel_tool_calls",
)


def make_request(model: str, messages: Any, *, stream: bool = False, **params: Any) -> ChatRequest:
    """Build and check a ChatRequest from the public call's arguments."""
    checked = coerce_messages(messages)
    check_conversation(checked)
    tools = coerce_tools(params.pop("tools", None))
    choice_value = params.pop("tool_choice", None)
    extra: Dict[str, Any] = dict(params.pop("extra", None) or {})
    unknown = [k for k in params if k not in _PARAMS]
    if unknown:
        name = unknown[0]
        raise InvalidRequestError(
            f"{name}: not a llmplex parameter; pass vendor-only parameters as extra={{{name!r}: ...}}",
            field=name,
        )
    fields: Dict[str, Any] = {k: v for k, v in params.items() if v is not None}
    choice: Optional[ToolChoice] = None
    if choice_value is not None:
        try:
            choice = choice_value if isinstance(choice_value, ToolChoice) else ToolChoice.model_validate(choice_value)
        except ValidationError as exc:
            raise _from_validation_error("tool_choice", exc, choice_value) from None
        if choice.mode == "tool":
            names = [t.name for t in tools or []]
            if choice.name not in names:
                raise InvalidRequestError(
                    f"tool_choice: names tool {choice.name!r}, which is not in tools "
                    f"(known: {', '.join(repr(n) for n in names) or 'none'}); add it to tools or fix the name",
                    field="tool_choice",
                )
        if choice.mode == "required" and not tools:
            raise InvalidRequestError("tool_choice: 'required' needs at least one tool in tools", field="tool_choice")
    try:
        return ChatRequest(
            model=model,
            messages=checked,
            tools=tools,
            tool_choice=choice,
            stream=stream,
            extra=extra,
            **fields,
        )
    except ValidationError as exc:
        raise _from_validation_error("", exc, fields) from None
