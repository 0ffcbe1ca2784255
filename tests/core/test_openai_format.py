"""Tests for llmplex.schema.openai_format: exact round trips of OpenAI-shaped conversations."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex.errors import InvalidRequestError
from llmplex.schema.messages import ImagePart, Message, TextPart, ToolCall
from llmplex.schema.openai_format import (
    message_from_openai,
    message_to_openai,
    tool_from_openai,
    tool_to_openai,
)
from llmplex.schema.tools import Tool
from llmplex.schema.validation import from_openai, make_request, to_openai

MODELLED = {"role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content"}
NULLABLE = ("name", "tool_calls", "tool_call_id", "reasoning_content")

# -- examples ------------------------------------------------------------------------------------

CONVERSATION: List[Dict[str, Any]] = [
    {"role": "system", "content": "You are terse.", "name": "policy"},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image, and the weather?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}},
        ],
        "name": "alice",
    },
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "Need the weather first.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{ "city" : "Zürich",\n "unit":"c" }'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "get_time", "arguments": ""},
                "extra_content": {"google": {"thought_signature": "abc"}},
            },
        ],
        "refusal": None,
        "annotations": [],
        "audio": None,
        "function_call": None,
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 18}', "name": "get_weather"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
    # openai SDK model_dump() style: every optional key present as null.
    {
        "role": "assistant",
        "content": "A cat. 18°C at noon.",
        "refusal": None,
        "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x", "start_index": 0}}],
        "audio": None,
        "function_call": None,
        "tool_calls": None,
        "reasoning_content": None,
        "name": None,
    },
]


def test_example_round_trip_is_exact() -> None:
    messages = from_openai(CONVERSATION)
    assert to_openai(messages) == CONVERSATION
    assert from_openai(to_openai(messages)) == messages
    # and json-level equality, key for key
    assert json.dumps(to_openai(messages), sort_keys=True) == json.dumps(CONVERSATION, sort_keys=True)


def test_example_is_parsed_into_the_schema() -> None:
    messages = from_openai(CONVERSATION)
    user = messages[1]
    assert isinstance(user.content, list)
    assert user.content[0] == TextPart(text="What is in this image, and the weather?")
    assert user.content[1] == ImagePart(url="https://example.com/cat.jpg", detail="high")
    assert user.content[2].as_base64() == ("image/png", "iVBORw0KGgo=")  # type: ignore[union-attr]
    assert user.content[3] == TextPart(text="cached", extra={"cache_control": {"type": "ephemeral"}})
    turn = messages[2]
    assert turn.content is None
    assert turn.reasoning_content == "Need the weather first."
    # OpenAI-only nulls mean "absent": not extras (they would go to every vendor's wire).
    assert turn.extra == {"annotations": []}
    assert turn.tool_calls is not None
    assert turn.tool_calls[0].arguments == {"city": "Zürich", "unit": "c"}
    assert turn.tool_calls[0].raw_arguments == '{ "city" : "Zürich",\n "unit":"c" }'
    assert turn.tool_calls[1].arguments == {}
    assert turn.tool_calls[1].extra == {"extra_content": {"google": {"thought_signature": "abc"}}}
    last = messages[5]
    assert last.tool_calls is None and last.name is None and last.reasoning_content is None


def test_absent_content_stays_absent_and_null_stays_null() -> None:
    with_null = {"role": "assistant", "content": None, "tool_calls": [{"id": "a", "type": "function",
                                                                       "function": {"name": "f", "arguments": "{}"}}]}
    absent = {k: v for k, v in with_null.items() if k != "content"}
    assert message_to_openai(message_from_openai(with_null)) == with_null
    assert message_to_openai(message_from_openai(absent)) == absent


def test_models_built_in_python_serialise_like_openai() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Paris"})
    messages = [
        Message.user([TextPart(text="hi"), ImagePart(data=b"\x89PNG", media_type="image/png", detail="low")]),
        Message.assistant(tool_calls=[call]),
        Message.tool("call_1", "18"),
        Message.assistant("done"),
    ]
    assert to_openai(messages) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw==", "detail": "low"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
            ],
        },
        {"role": "tool", "content": "18", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "done"},
    ]


def test_public_calls_accept_both_dicts_and_models() -> None:
    dicts = [{"role": "user", "content": "hi"}]
    assert to_openai(dicts) == dicts
    assert to_openai([Message.user("hi")]) == dicts
    assert from_openai([Message.user("hi"), {"role": "assistant", "content": "yo"}]) == [
        Message.user("hi"),
        Message(role="assistant", content="yo"),
    ]
    assert message_to_openai({"role": "user", "content": "hi"}) == {"role": "user", "content": "hi"}
    assert from_openai([]) == []
    assert llmplex.from_openai is from_openai and llmplex.to_openai is to_openai


def test_from_openai_raises_invalid_request_error_naming_the_field() -> None:
    bad: List[Dict[str, Any]] = [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "[]"}}]}]
    with pytest.raises(InvalidRequestError) as info:
        from_openai(bad)
    assert info.value.field == "messages[1].tool_calls[0].function.arguments"
    with pytest.raises(InvalidRequestError) as info:
        to_openai([{"role": "narrator", "content": "x"}])
    assert info.value.field == "messages[0].role"


def test_tools_round_trip() -> None:
    wire: Dict[str, Any] = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather now.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            "strict": True,
        },
    }
    tool = tool_from_openai(wire)
    assert tool == Tool(name="get_weather", description="Weather now.", parameters=wire["function"]["parameters"],
                        strict=True)
    assert tool_to_openai(tool) == wire
    assert tool_to_openai(wire) == wire
    assert tool_to_openai({"name": "ping"}) == {
        "type": "function",
        "function": {"name": "ping", "parameters": {"type": "object", "properties": {}}},
    }


# -- property: any OpenAI-shaped conversation round-trips exactly --------------------------------

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(
    max_size=8
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
texts = st.text(max_size=30)
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
names = st.none() | st.text(alphabet=ALNUM + "_-", min_size=1, max_size=16)
extra_keys = st.text(min_size=1, max_size=12).filter(lambda k: k not in MODELLED)


@st.composite
def argument_strings(draw: st.DrawFn) -> str:
    """A JSON object as text, formatted in one of many ways (or the empty string)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", " ", "\n"]))
    value = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    indent = draw(st.sampled_from([None, 0, 1, 2, "\t"]))
    separators = draw(st.sampled_from([None, (",", ":"), (", ", ": "), (" ,", " : ")]))
    text = json.dumps(value, indent=indent, separators=separators, ensure_ascii=draw(st.booleans()),
                      sort_keys=draw(st.booleans()))
    return draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", " ", "\n  "]))


@st.composite
def image_parts(draw: st.DrawFn) -> Dict[str, Any]:
    if draw(st.booleans()):
        host = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10))
        path = draw(st.text(alphabet=ALNUM + "_./-", max_size=20))
        url = draw(st.sampled_from(["https://", "http://"])) + host + draw(st.sampled_from([".com/", ".org/"])) + path
    else:
        media = draw(st.sampled_from(["image/png", "image/jpeg", "image/webp", "image/gif"]))
        url = f"data:{media};base64," + base64.b64encode(draw(st.binary(min_size=1, max_size=24))).decode("ascii")
    image: Dict[str, Any] = {"url": url}
    detail = draw(st.sampled_from([None, "auto", "low", "high"]))
    if detail is not None:
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


@st.composite
def text_parts(draw: st.DrawFn) -> Dict[str, Any]:
    part: Dict[str, Any] = {"type": "text", "text": draw(texts)}
    if draw(st.integers(0, 5)) == 0:
        part["cache_control"] = {"type": "ephemeral"}
    return part


def contents(images: bool) -> st.SearchStrategy[Any]:
    part = st.one_of(text_parts(), image_parts()) if images else text_parts()
    return texts | st.lists(part, max_size=4)


@st.composite
def with_optional_fields(draw: st.DrawFn, message: Dict[str, Any], nullable: List[str]) -> Dict[str, Any]:
    name = draw(names)
    if name is not None:
        message["name"] = name
    for key in nullable:  # openai SDK dumps carry explicit nulls
        if key not in message and draw(st.integers(0, 4)) == 0:
            message[key] = None
    for key, value in draw(st.dictionaries(extra_keys, json_values, max_size=3)).items():
        message.setdefault(key, value)
    return message


@st.composite
def conversations(draw: st.DrawFn) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    counter = 0
    if draw(st.booleans()):
        out.append(draw(with_optional_fields({"role": "system", "content": draw(contents(False))},
                                             ["reasoning_content", "tool_calls"])))
    for _ in range(draw(st.integers(1, 4))):
        out.append(draw(with_optional_fields({"role": "user", "content": draw(contents(True))},
                                             ["tool_calls", "tool_call_id"])))
        assistant: Dict[str, Any] = {"role": "assistant"}
        calls: List[Dict[str, Any]] = []
        for _ in range(draw(st.integers(0, 3))):
            counter += 1
            call_id = f"call_{counter}_" + draw(st.text(alphabet=ALNUM, max_size=8))
            call: Dict[str, Any] = {
                "id": call_id,
                "type": "function",
                "function": {"name": draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)),
                             "arguments": draw(argument_strings())},
            }
            if draw(st.integers(0, 5)) == 0:
                call["extra_content"] = draw(json_values)
            calls.append(call)
        if calls:
            assistant["tool_calls"] = calls
            choice = draw(st.sampled_from(["null", "absent", "text"]))
            if choice == "null":
                assistant["content"] = None
            elif choice == "text":
                assistant["content"] = draw(texts)
        else:
            assistant["content"] = draw(contents(False))
        if draw(st.booleans()):
            assistant["reasoning_content"] = draw(texts)
        out.append(draw(with_optional_fields(assistant, ["tool_calls", "reasoning_content"])))
        for call in calls:
            result: Dict[str, Any] = {"role": "tool", "tool_call_id": call["id"], "content": draw(contents(False))}
            out.append(draw(with_optional_fields(result, ["reasoning_content"])))
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations())
def test_round_trip_property(conversation: List[Dict[str, Any]]) -> None:
    snapshot = json.loads(json.dumps(conversation))
    messages = from_openai(conversation)
    assert to_openai(messages) == conversation
    assert from_openai(to_openai(messages)) == messages
    assert conversation == snapshot  # the input is not mutated
    # raw argument strings are preserved byte for byte
    raw = [c["function"]["arguments"] for m in conversation for c in (m.get("tool_calls") or [])]
    parsed = [c.raw_arguments for m in messages for c in (m.tool_calls or [])]
    assert parsed == raw
    # and each conversation is a valid request
    assert make_request("m", conversation).messages == messages


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_json_dump_of_messages_round_trips(conversation: List[Dict[str, Any]]) -> None:
    messages = from_openai(conversation)
    reloaded = [Message.model_validate_json(m.model_dump_json()) for m in messages]
    # A JSON dump keeps every value but not which keys were absent or explicit nulls: nulls of
    # optional fields are dropped, and content is always written (null on a tool-call-only turn).
    expected = []
    for message in conversation:
        plain = {k: v for k, v in message.items() if not (v is None and k in NULLABLE)}
        plain.setdefault("content", None)
        expected.append(plain)
    assert to_openai(reloaded) == expected


def test_explicit_nulls_only_come_back_from_dicts_with_nulls() -> None:
    plain = message_from_openai({"role": "user", "content": "x"})
    nulls = message_from_openai({"role": "user", "content": "x", "name": None})
    assert message_to_openai(plain) == {"role": "user", "content": "x"}
    assert message_to_openai(nulls) == {"role": "user", "content": "x", "name": None}
