"""The common shapes of a call and of a reply, checked and built without pydantic's generic
validation.

A call's messages are usually plain ``{"role": ..., "content": "..."}`` dicts and its parameters
plain numbers and strings; a reply's values are typed by the provider that parsed them. For
those, this module checks exactly the rules the models' validators apply and builds the
instances with :mod:`llmplex.schema.model`'s trusted builders: the same instances (the tests
compare each with the validated one), at a fraction of the cost. Any other value, including
every invalid one, goes through the models' own validation, which words the error: the request
side returns None for it, the reply side calls the model.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional

from .invalid import FieldValueError
from .jsonvalue import check_json
from .messages import Message, ToolCall
from .model import built, trusted
from .request import ChatRequest, ResponseFormat
from .response import ChatResponse, Choice, FinishReason, Usage
from .tools import Tool, ToolChoice

__all__ = [
    "encodable",
    "plain_message",
    "plain_request",
    "reply_message",
    "reply_choice",
    "reply",
    "usage",
    "vendor_tool_call",
]

# A message of these roles with string content needs nothing else (a tool message needs its
# tool_call_id, so it takes the full path).
_PLAIN_ROLES = frozenset({"system", "user", "assistant"})
# Message's private state when it came from no dict with explicit nulls.
_NO_NULL_KEYS: Dict[str, Any] = {"_null_keys": frozenset()}


def encodable(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (no lone surrogate); O(1) for ASCII text."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_message(item: Dict[str, Any]) -> Optional[Message]:
    """The Message of a ``{"role", "content"}`` dict of strings (as ``message_from_openai``
    builds it), or None when the dict is anything else."""
    if len(item) != 2:
        return None
    role = item.get("role")
    content = item.get("content")
    if type(role) is not str or role not in _PLAIN_ROLES or type(content) is not str or not encodable(content):
        return None
    fields: Dict[str, Any] = {
        "role": role,
        "content": content,
        "name": None,
        "tool_calls": None,
        "tool_call_id": None,
        "reasoning_content": None,
        "extra": {},
        "provider_state": {},
    }
    return built(Message, fields, {"role", "content"}, _NO_NULL_KEYS.copy())


def _number(value: Any, low: float, high: float) -> Optional[float]:
    # ChatRequest's float fields: ints become floats; booleans, NaN and out-of-range values
    # are refused by the validators (None here: the full path words the error).
    kind = type(value)
    if kind is float or kind is int:
        number = float(value)
        if math.isfinite(number) and low <= number <= high:
            return number
    return None


def _param(name: str, value: Any) -> Any:
    """``value`` as ChatRequest stores parameter ``name``, or the marker ``_FULL`` when only
    the full validation can tell (or refuse) it."""
    kind = type(value)
    if name == "temperature":
        number = _number(value, 0.0, 2.0)
        return _FULL if number is None else number
    if name == "top_p":
        number = _number(value, 0.0, 1.0)
        return _FULL if number is None else number
    if name in ("max_tokens", "n"):
        return value if kind is int and value > 0 else _FULL
    if name == "seed":
        return value if kind is int else _FULL
    if name == "user":
        return value if kind is str and encodable(value) else _FULL
    if name == "parallel_tool_calls":
        return value if kind is bool else _FULL
    if name == "stop":
        if kind is str:
            return value if encodable(value) else _FULL
        if kind is list and all(type(s) is str and encodable(s) for s in value):
            return list(value)  # validation copies the caller's list
        return _FULL
    if name == "response_format":
        return value if kind is ResponseFormat else _FULL
    return _FULL


_FULL = object()


def plain_request(
    model: Any,
    messages: List[Message],
    tools: Optional[List[Tool]],
    tool_choice: Optional[ToolChoice],
    stream: Any,
    extra: Dict[str, Any],
    headers: Dict[str, str],
    params: Dict[str, Any],
) -> Optional[ChatRequest]:
    """The ChatRequest ``make_request`` would build from these checked parts, or None when a
    value needs the full validation. ``messages``, ``tools``, ``tool_choice`` and ``headers``
    are already checked; ``extra`` is checked by the caller (plain JSON)."""
    if type(model) is not str or not model or not encodable(model) or type(stream) is not bool:
        return None
    fields: Dict[str, Any] = {  # every field, in ChatRequest's order
        "model": model,
        "messages": messages,
        "tools": tools,
        "tool_choice": tool_choice,
        "parallel_tool_calls": None,
        "temperature": None,
        "top_p": None,
        "max_tokens": None,
        "stop": None,
        "seed": None,
        "n": None,
        "response_format": None,
        "user": None,
        "stream": stream,
        "extra": extra,
        "headers": headers,
    }
    given = _REQUEST_SET.copy()
    for name, value in params.items():
        checked = _param(name, value)
        if checked is _FULL:
            return None
        fields[name] = checked
        given.add(name)
    return built(ChatRequest, fields, given)


# What make_request always passes to ChatRequest.
_REQUEST_SET = {"model", "messages", "tools", "tool_choice", "stream", "extra", "headers"}


# -- replies: built by a provider from values it has typed itself --------------------------------


# The fields each reply model's validated constructor records as given (copied per instance:
# pydantic adds to an instance's set on assignment).
_MESSAGE_SET = {"role", "content", "tool_calls", "reasoning_content"}
_USAGE_SET = set(Usage.model_fields)
_CHOICE_SET = set(Choice.model_fields)
_REPLY_SET = {"id", "provider", "model", "message", "finish_reason", "finish_reason_raw", "usage", "raw", "choices"}


def reply_message(content: Optional[str], tool_calls: Optional[List[ToolCall]], reasoning: Optional[str]) -> Message:
    """``Message(role="assistant", content=..., tool_calls=..., reasoning_content=...)``.

    Text a vendor sent may still hold a lone surrogate (JSON's ``"\\ud800"``): then, and for
    content None without tool calls, it is the model that refuses it (its error marks it as the
    vendor's fault, ``llmplex.provider.wire.vendor_fault``)."""
    if (
        (content is None and tool_calls)
        or (type(content) is str and encodable(content))
    ) and (reasoning is None or (type(reasoning) is str and encodable(reasoning))):
        fields: Dict[str, Any] = {
            "role": "assistant",
            "content": content,
            "name": None,
            "tool_calls": tool_calls,
            "tool_call_id": None,
            "reasoning_content": reasoning,
            "extra": {},
            "provider_state": {},
        }
        return built(Message, fields, _MESSAGE_SET.copy(), _NO_NULL_KEYS.copy())
    return Message(role="assistant", content=content, tool_calls=tool_calls, reasoning_content=reasoning)


def usage(
    prompt_tokens: int,
    completion_tokens: int,
    total_tokens: int,
    cached_tokens: Optional[int] = None,
    reasoning_tokens: Optional[int] = None,
) -> Usage:
    """``Usage(...)`` with every field given, from counts the provider made ints."""
    fields: Dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": total_tokens,
        "cached_tokens": cached_tokens,
        "reasoning_tokens": reasoning_tokens,
    }
    return built(Usage, fields, _USAGE_SET.copy())


def reply_choice(
    index: int, message: Message, finish_reason: Optional[FinishReason], finish_reason_raw: Optional[str]
) -> Choice:
    """``Choice(index=..., message=..., finish_reason=..., finish_reason_raw=...)``."""
    fields: Dict[str, Any] = {
        "index": index,
        "message": message,
        "finish_reason": finish_reason,
        "finish_reason_raw": finish_reason_raw,
    }
    return built(Choice, fields, _CHOICE_SET.copy())


def reply(
    id: Optional[str],  # noqa: A002 - the field's name
    provider: str,
    model: str,
    message: Message,
    finish_reason: Optional[FinishReason],
    finish_reason_raw: Optional[str],
    usage: Optional[Usage],
    raw: Any,
    choices: List[Choice],
) -> ChatResponse:
    """``ChatResponse(id=..., ..., choices=...)`` for a provider's parsed reply: ``choices``
    non-empty, the first holding ``message``."""
    fields: Dict[str, Any] = {
        "id": id,
        "provider": provider,
        "model": model,
        "message": message,
        "finish_reason": finish_reason,
        "finish_reason_raw": finish_reason_raw,
        "usage": usage,
        "raw": raw,
        "latency": None,
        "attempts": 1,
        "warnings": [],
        "parsed": None,
        "choices": choices,
        "request_id": None,
        "headers": {},
        "fallbacks": [],
    }
    return built(ChatResponse, fields, _REPLY_SET.copy())


def vendor_tool_call(call_id: str, name: str, arguments: Dict[str, Any], raw: Optional[str]) -> Optional[ToolCall]:
    """``ToolCall(id=..., name=..., arguments=..., raw_arguments=raw)`` for arguments a vendor
    sent (``raw`` the text they were parsed from; None when they came as an object, which is
    then serialised as ToolCall does); None when the model must say what is wrong."""
    if type(call_id) is not str or type(name) is not str or type(arguments) is not dict:
        return None
    if not (encodable(call_id) and encodable(name)):
        return None
    try:
        check_json(arguments, "arguments")  # parsed JSON may still hold NaN, lone surrogates, depth
    except FieldValueError:
        return None
    if raw is None:
        raw = json.dumps(arguments, ensure_ascii=False)  # as ToolCall serialises an object
    elif type(raw) is not str or not encodable(raw) or (raw == "" and arguments):
        return None
    return trusted(ToolCall, {"id": call_id, "name": name, "arguments": dict(arguments), "raw_arguments": raw})
