"""Structured output: ``client.chat(..., response_model=Model)`` returns ``reply.parsed``, a
validated ``Model`` instance.

The path is chosen from the model's declared capabilities (``client.capabilities(model)``):

1. ``json_schema``: the vendor's native JSON-Schema mode (``response_format`` json_schema);
2. ``json_mode``: JSON mode (``response_format`` json_object) plus the schema in the prompt;
3. ``tool``: one tool whose parameters are the schema, forced with ``tool_choice``;
4. ``prompt``: the schema in the prompt only.

Whatever the path, the reply is validated with pydantic; when it does not fit, the error is fed
back to the model in a repair turn (at most ``max_repairs``, default 2), and when none fits,
``StructuredOutputError`` is raised with the last raw text and pydantic's errors.
``structured_mode=`` forces one path.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Optional

from pydantic import BaseModel, ValidationError

from ..errors import InvalidRequestError, StructuredOutputError
from ..schema.messages import Message, TextPart
from ..schema.response import ChatResponse
from ..schema.tools import Tool, _inline_refs, _strip_titles
from ..schema.validation import coerce_messages
from .protocols import ChatClient

__all__ = ["MODES", "DEFAULT_MAX_REPAIRS", "choose_mode", "schema_of", "instruction", "extract", "parse", "chat",
           "as_text_message"]

MODES = ("auto", "json_schema", "json_mode", "tool", "prompt")
DEFAULT_MAX_REPAIRS = 2
# How much of pydantic's complaint goes into a repair turn and an error message.
_ERRORS_SHOWN = 8
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```\s*$", re.DOTALL)


def choose_mode(capabilities: Any, requested: str = "auto") -> str:
    """The path for a model with these capabilities (None: unknown, so the prompt path)."""
    if requested not in MODES:
        raise InvalidRequestError(
            f"structured_mode: {requested!r} is not a mode; use one of {', '.join(repr(m) for m in MODES)}",
            field="structured_mode",
        )
    if requested != "auto":
        return requested
    if capabilities is None:
        return "prompt"
    if getattr(capabilities, "json_schema", False):
        return "json_schema"
    if getattr(capabilities, "json_mode", False):
        return "json_mode"
    if getattr(capabilities, "tools", False) and "tool" in getattr(capabilities, "tool_choice", ()):
        return "tool"
    return "prompt"


def _name_of(model: type) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64]
    return name or "response"


def schema_of(model: type[BaseModel]) -> Dict[str, Any]:
    """The model's JSON Schema with ``$ref``s inlined and pydantic's titles dropped (most vendors
    resolve no ``$ref``; a recursive model keeps its ``$defs``)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    kept: Dict[str, Any] = {}
    flat: Dict[str, Any] = _strip_titles(_inline_refs(schema, defs, kept))
    if kept:
        flat["$defs"] = {k: _strip_titles(v) for k, v in sorted(kept.items())}
    return flat


def instruction(schema: Dict[str, Any]) -> str:
    """The words that ask for JSON (OpenAI's JSON mode requires the word "JSON" in the prompt)."""
    return (
        "Reply with only one JSON object, no other text and no code fences, that validates against "
        f"this JSON Schema:\n{json.dumps(schema, ensure_ascii=False)}"
    )


def _with_instruction(messages: List[Message], text: str, system_messages: str) -> List[Message]:
    """The instruction in the system prompt where the vendor takes one, else in the last user turn."""
    first = messages[0]
    if first.role == "system" and isinstance(first.content, str):
        return [Message.system(f"{first.content}\n\n{text}"), *messages[1:]]
    if system_messages != "none":
        return [Message.system(text), *messages]
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == "user":
            if isinstance(message.content, str):
                content: Any = f"{message.content}\n\n{text}"
            else:
                content = [*message.parts, TextPart(text=text)]
            return [*messages[:index], message.model_copy(update={"content": content}), *messages[index + 1:]]
    return [*messages, Message.user(text)]


def extract(reply: ChatResponse, mode: str, name: str) -> str:
    """The text that should be the JSON: the forced tool's arguments, else the reply's text."""
    if mode == "tool":
        for call in reply.tool_calls:
            if call.name == name:
                return call.raw_arguments or json.dumps(call.arguments, ensure_ascii=False)
    return reply.text


def _candidates(raw: str) -> List[str]:
    text = raw.strip()
    found = [text]
    fenced = _FENCE.match(text)
    if fenced:
        found.append(fenced.group(1).strip())
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        found.append(text[start:end + 1])
    return found


def parse(raw: str, model: type[BaseModel]) -> BaseModel:
    """``raw`` as a validated ``model``: as it is, inside a code fence, or the outermost ``{...}``
    of surrounding prose. Raises the ValidationError of the most plausible candidate."""
    first_error: Optional[ValidationError] = None
    for candidate in _candidates(raw):
        try:
            return model.model_validate_json(candidate)
        except ValidationError as exc:
            is_json_error = all(e.get("type") == "json_invalid" for e in exc.errors())
            if first_error is None or (not is_json_error and _json_only(first_error)):
                first_error = exc  # a schema complaint about real JSON says more than "not JSON"
    assert first_error is not None
    raise first_error


def _json_only(error: ValidationError) -> bool:
    return all(e.get("type") == "json_invalid" for e in error.errors())


def _problems(error: ValidationError) -> List[str]:
    out = []
    for item in error.errors(include_url=False, include_input=False)[:_ERRORS_SHOWN]:
        where = ".".join(str(p) for p in item.get("loc", ())) or "(the whole reply)"
        out.append(f"{where}: {item.get('msg', 'invalid')}")
    return out


def _repair_turn(reply: ChatResponse, mode: str, name: str, problems: List[str]) -> List[Message]:
    complaint = (
        "That reply does not validate against the schema:\n- " + "\n- ".join(problems)
        + "\nReply again with only the corrected JSON object."
    )
    calls = reply.tool_calls
    if mode == "tool" and calls:
        # The calls must be answered before the next turn: the first carries the complaint.
        return [reply.message] + [
            Message.tool(call.id, complaint if index == 0 else "Ignored: call the tool once.")
            for index, call in enumerate(calls)
        ]
    answered = reply.message if reply.message.content is not None and not calls else Message.assistant(reply.text or " ")
    return [answered, Message.user(complaint)]


def _capabilities(client: ChatClient, model: str) -> Any:
    getter = getattr(client, "capabilities", None)
    if not callable(getter):
        return None
    return getter(model)


def chat(
    client: ChatClient,
    model: str,
    messages: Any,
    *,
    response_model: Any,
    structured_mode: str = "auto",
    max_repairs: int = DEFAULT_MAX_REPAIRS,
    **params: Any,
) -> ChatResponse:
    """The driver behind ``client.chat(..., response_model=...)``."""
    if not (isinstance(response_model, type) and issubclass(response_model, BaseModel)):
        raise InvalidRequestError(
            f"response_model: expected a pydantic model class, got {response_model!r:.80}; "
            "define class Answer(BaseModel): ... and pass response_model=Answer",
            field="response_model",
        )
    if isinstance(max_repairs, bool) or not isinstance(max_repairs, int) or max_repairs < 0:
        raise InvalidRequestError(f"max_repairs: must be 0 or a positive integer, got {max_repairs!r}",
                                  field="max_repairs")
    if params.get("stream"):
        raise InvalidRequestError("response_model: structured output needs the whole reply; use chat(), not stream",
                                  field="response_model")
    capabilities = _capabilities(client, model)
    mode = choose_mode(capabilities, structured_mode)
    name = _name_of(response_model)
    schema = schema_of(response_model)
    conversation = coerce_messages(messages)
    call_params = dict(params)
    if mode == "json_schema":
        fmt: Dict[str, Any] = {"name": name, "schema": schema}
        if response_model.__doc__ and response_model.__doc__ != BaseModel.__doc__:
            fmt["description"] = " ".join(response_model.__doc__.split())[:500]
        call_params["response_format"] = {"type": "json_schema", "json_schema": fmt}
    elif mode == "json_mode":
        call_params["response_format"] = "json_object"
    elif mode == "tool":
        description = (response_model.__doc__ if response_model.__doc__ != BaseModel.__doc__ else None) or (
            f"Give the answer as a {name}.")
        tool = Tool(name=name, description=" ".join(description.split())[:1000], parameters=schema)
        call_params["tools"] = [*(params.get("tools") or []), tool]
        call_params["tool_choice"] = {"mode": "tool", "name": name}
    if mode in ("json_mode", "prompt"):
        system_messages = str(getattr(capabilities, "system_messages", "many"))
        conversation = _with_instruction(conversation, instruction(schema), system_messages)

    responses: List[ChatResponse] = []
    raw = ""
    last_error: Optional[ValidationError] = None
    for _attempt in range(max_repairs + 1):
        reply = client.chat(model, conversation, **call_params)
        responses.append(reply)
        raw = extract(reply, mode, name)
        try:
            parsed = parse(raw, response_model)
        except ValidationError as exc:
            last_error = exc
            conversation = [*conversation, *_repair_turn(reply, mode, name, _problems(exc))]
            continue
        reply.parsed = parsed
        return reply
    assert last_error is not None
    problems = _problems(last_error)
    last = responses[-1]
    raise StructuredOutputError(
        f"the reply did not validate against {response_model.__name__} ({mode} mode, "
        f"{len(responses)} attempt{'s' if len(responses) != 1 else ''}): {'; '.join(problems)}",
        raw=raw,
        errors=last_error.errors(include_url=False, include_input=False),
        responses=responses,
        provider=last.provider,
        model=last.model,
        attempts=len(responses),
    )


def as_text_message(reply: ChatResponse) -> Message:
    """A structured reply as a plain assistant message holding its JSON (for a history)."""
    parsed = reply.parsed
    if isinstance(parsed, BaseModel):
        return Message.assistant(parsed.model_dump_json())
    return Message.assistant(json.dumps(parsed, ensure_ascii=False, default=str))


