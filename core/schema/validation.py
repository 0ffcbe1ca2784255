"""Turn whatever the caller passed into a checked ChatRequest, or say exactly what is wrong.

Every problem becomes ``InvalidRequestError`` with ``.field`` in ``messages[2].role`` form and a
message of the shape ``"<field>: <what is wrong>; <how to fix>"``. The caller's values are never
echoed whole (they may hold secrets or megabytes of image data).
"""

from __future__ import annotations

import collections.abc as abc
import difflib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set

from pydantic import ValidationError

from ..errors import InvalidRequestError
from .invalid import FieldValueError, from_validation_error, join, location, within
from .messages import Message
from .openai_format import MessageLike, as_plain_message, message_from_openai, message_to_openai, tool_from_openai
from .call_params import check_headers, normalise_aliases
from .fastpath import plain_message, plain_request
from .jsonvalue import check_json
from .request import ChatRequest
from .tools import Tool, ToolChoice

__all__ = ["make_request", "coerce_messages", "coerce_tools", "check_conversation", "from_openai", "to_openai"]


def _short(value: str, limit: int = 64) -> str:
    """``repr`` of a caller's string, cut so that messages never echo long values whole."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


# Moved to .invalid (shared with the models' constructors); the old names stay importable.
_location = location
_join = join
_from_validation_error = from_validation_error


def coerce_messages(messages: Any) -> List[Message]:
    """Messages or OpenAI-shaped dicts as validated Messages (each on its own; see
    :func:`check_conversation` for the checks that span messages)."""
    # collections.abc, not typing: the same check without typing's __instancecheck__ layer.
    if type(messages) is not list and (
        isinstance(messages, (str, bytes, abc.Mapping, Message)) or not isinstance(messages, abc.Sequence)
    ):
        raise InvalidRequestError(
            f"messages: expected a list of messages, got {type(messages).__name__}; "
            "wrap a single prompt as [{'role': 'user', 'content': ...}]",
            field="messages",
        )
    if not messages:
        raise InvalidRequestError("messages: the list is empty; pass at least one user message", field="messages")
    out: List[Message] = []
    for index, item in enumerate(messages):
        if type(item) is dict:
            plain = plain_message(item)  # the common {"role", "content"} dict of strings
            if plain is not None:
                out.append(plain)
                continue
        elif type(item) is Message:
            out.append(item)
            continue
        prefix = f"messages[{index}]"
        item = as_plain_message(item)
        if isinstance(item, Message):
            out.append(item)
            continue
        if not isinstance(item, abc.Mapping):
            raise InvalidRequestError(
                f"{prefix}: expected a message dict like {{'role': 'user', 'content': '...'}} or a Message, "
                f"got {type(item).__name__}",
                field=prefix,
            )
        try:
            out.append(message_from_openai(item))
        except InvalidRequestError as exc:  # Message(...) names its own field
            raise within(prefix, exc) from None
        except ValidationError as exc:
            raise _from_validation_error(prefix, exc, item) from None
        except FieldValueError as exc:
            field = _join(prefix, exc.path)
            raise InvalidRequestError(f"{field}: {exc.reason}", field=field) from None
        except ValueError as exc:
            raise InvalidRequestError(f"{prefix}: {exc}", field=prefix) from None
    return out


def coerce_tools(tools: Any) -> Optional[List[Tool]]:
    """Tools, OpenAI-shaped tool dicts or plain functions as Tools; None stays None."""
    if tools is None:
        return None
    if isinstance(tools, (str, bytes, Mapping, Tool)) or not isinstance(tools, Sequence):
        raise InvalidRequestError(
            f"tools: expected a list of tools, got {type(tools).__name__}; wrap a single tool as [tool]",
            field="tools",
        )
    out: List[Tool] = []
    seen: Dict[str, int] = {}
    for index, item in enumerate(tools):
        prefix = f"tools[{index}]"
        tool: Optional[Tool]
        try:
            if isinstance(item, Tool):
                tool = item
            elif isinstance(item, Mapping):
                tool = tool_from_openai(item)
            elif callable(item):
                tool = Tool.from_function(item)
            else:
                tool = None
        except InvalidRequestError as exc:  # Tool(...) names its own field
            raise within(prefix, exc) from None
        except ValidationError as exc:
            raise _from_validation_error(prefix, exc, item) from None
        except FieldValueError as exc:
            field = _join(prefix, exc.path)
            raise InvalidRequestError(f"{field}: {exc.reason}", field=field) from None
        except ValueError as exc:
            raise InvalidRequestError(f"{prefix}: {exc}", field=prefix) from None
        if tool is None:
            raise InvalidRequestError(
                f"{prefix}: expected a Tool, a function or a dict like "
                f"{{'type': 'function', 'function': {{'name': ..., 'parameters': {{...}}}}}}, "
                f"got {type(item).__name__}",
                field=prefix,
            )
        if tool.name in seen:
            field = f"{prefix}.name"
            raise InvalidRequestError(
                f"{field}: {_short(tool.name)} is already the name of tools[{seen[tool.name]}]; "
                "give every tool its own name",
                field=field,
            )
        seen[tool.name] = index
        out.append(tool)
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
                        f"{field}: {_short(call.id)} is used by an earlier tool call; "
                        "tool call ids must be unique, give each call its own id",
                        field=field,
                    )
                known.add(call.id)
        elif message.role == "tool" and message.tool_call_id not in known:
            field = f"messages[{index}].tool_call_id"
            ids = sorted(known)
            listing = ", ".join(_short(k) for k in ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            raise InvalidRequestError(
                f"{field}: {_short(message.tool_call_id or '')} matches no tool call in an earlier assistant message "
                f"(known: {listing or 'none'}); set it to the id of the call this result answers",
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
_ALL_PARAMS = _PARAMS + ("tools", "tool_choice", "extra", "stream")


def make_request(model: str, messages: Any, *, stream: bool = False, **params: Any) -> ChatRequest:
    """Build and check a ChatRequest from the public call's arguments."""
    checked = coerce_messages(messages)
    check_conversation(checked)
    normalise_aliases(params)
    headers = check_headers(params.pop("headers", None))
    unknown = [k for k in params if k not in _PARAMS and k not in ("tools", "tool_choice", "extra")]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, _ALL_PARAMS, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise InvalidRequestError(
            f"{name}: not a llmplex parameter; {guess}pass vendor-only parameters as extra={{{_short(name)}: ...}}",
            field=name,
        )
    tools = coerce_tools(params.pop("tools", None))
    choice_value = params.pop("tool_choice", None)
    extra_value = params.pop("extra", None)
    if extra_value is not None and not isinstance(extra_value, abc.Mapping):
        raise InvalidRequestError(
            f"extra: expected a dict of vendor-only parameters, got {type(extra_value).__name__}; "
            "pass extra={'name': value}",
            field="extra",
        )
    extra: Dict[str, Any] = dict(extra_value) if extra_value else {}
    non_string = next((k for k in extra if not isinstance(k, str)), None) if extra else None
    if non_string is not None:
        raise InvalidRequestError(
            f"extra: keys must be strings, got {type(non_string).__name__}; use the vendor's parameter names",
            field="extra",
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
                    f"tool_choice: names tool {_short(choice.name or '')}, which is not in tools "
                    f"(known: {', '.join(repr(n) for n in names) or 'none'}); add it to tools or fix the name",
                    field="tool_choice",
                )
        if choice.mode == "required" and not tools:
            raise InvalidRequestError(
                "tool_choice: 'required' needs at least one tool; pass tools=[...] or use 'auto'", field="tool_choice"
            )
    fast = _plain_request(model, checked, tools, choice, stream, extra, headers, fields)
    if fast is not None:
        return fast
    try:
        return ChatRequest(
            model=model,
            messages=checked,
            tools=tools,
            tool_choice=choice,
            stream=stream,
            extra=extra,
            headers=headers,
            **fields,
        )
    except ValidationError as exc:
        raise _from_validation_error("", exc, fields) from None


def _plain_request(
    model: Any,
    messages: List[Message],
    tools: Optional[List[Tool]],
    choice: Optional[ToolChoice],
    stream: Any,
    extra: Dict[str, Any],
    headers: Dict[str, str],
    fields: Dict[str, Any],
) -> Optional[ChatRequest]:
    """The request built without pydantic's validation when every value is a plain one
    (:mod:`llmplex.schema.fastpath`); None sends it through ``ChatRequest(...)``."""
    if extra:
        try:
            check_json(extra, "extra")
        except ValueError:
            return None  # ChatRequest(...) words the error
    return plain_request(model, messages, tools, choice, stream, extra, headers, fields)


def from_openai(messages: Sequence[MessageLike]) -> List[Message]:
    """An OpenAI ``messages`` list as Messages (Messages in it are kept as they are).

    Raises ``InvalidRequestError`` whose ``.field`` names the bad place (``messages[2].role``).
    Only each message's own shape is checked; :func:`llmplex.schema.validation.check_conversation`
    checks the conversation (tool results answering earlier calls).
    """
    if isinstance(messages, (list, tuple)) and not messages:
        return []
    return coerce_messages(messages)


def to_openai(messages: Sequence[MessageLike]) -> List[Dict[str, Any]]:
    """Messages (or OpenAI-shaped dicts, checked) as an OpenAI ``messages`` list."""
    return [message_to_openai(m) for m in from_openai(messages)]
