"""Tests for llmplex.schema.validation: every caller mistake becomes InvalidRequestError naming the field."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

import llmplex
from llmplex.errors import InvalidRequestError
from llmplex.schema.messages import Message, ToolCall
from llmplex.schema.tools import Tool, ToolChoice
from llmplex.schema.validation import check_conversation, coerce_messages, coerce_tools, make_request

SECRET = "sk-llmplex-CANARY-0123456789abcdef"
USER: Dict[str, Any] = {"role": "user", "content": "What is the weather in Paris?"}
WEATHER_TOOL: Dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def call(call_id: str, arguments: str = '{"city": "Paris"}', name: str = "get_weather") -> Dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def assistant(*calls: Dict[str, Any]) -> Dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


def tool_result(call_id: Any, content: str = "18C") -> Dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


CASES: List[Any] = [
    # (id, messages, params, field, phrases the message must contain)
    ("unknown role", [{"role": "bot", "content": "x"}], {}, "messages[0].role",
     ["'bot' is not a role", "expected one of 'system', 'user', 'assistant', 'tool'"]),
    ("developer role", [USER, {"role": "developer", "content": "x"}], {}, "messages[1].role",
     ["'developer' is not a role", "use 'system' instead"]),
    ("function role", [USER, {"role": "function", "content": "x"}], {}, "messages[1].role",
     ["use 'tool' instead"]),
    ("role not a string", [{"role": 3, "content": "x"}], {}, "messages[0].role",
     ["this int is not a role", "expected one of"]),
    ("missing role", [{"content": "x"}], {}, "messages[0].role", ["missing", "every message needs a role"]),
    ("empty list", [], {}, "messages", ["the list is empty", "pass at least one user message"]),
    ("empty tuple", (), {}, "messages", ["the list is empty"]),
    ("non-list str", "Hello", {}, "messages", ["expected a list of messages, got str", "wrap a single prompt as"]),
    ("non-list dict", USER, {}, "messages", ["expected a list of messages, got dict", "wrap a single prompt as"]),
    ("non-list None", None, {}, "messages", ["got NoneType"]),
    ("non-list int", 7, {}, "messages", ["got int"]),
    ("message not a dict", [USER, "hi"], {}, "messages[1]", ["expected a message dict", "got str"]),
    ("unmatched tool result", [USER, tool_result("call_9")], {}, "messages[1].tool_call_id",
     ["'call_9' matches no tool call in an earlier assistant message", "known: none",
      "set it to the id of the call this result answers"]),
    ("tool result names other id", [USER, assistant(call("call_1")), tool_result("call_2")], {},
     "messages[2].tool_call_id", ["'call_2' matches no tool call", "known: 'call_1'"]),
    ("tool result before its call", [USER, tool_result("call_1"), assistant(call("call_1"))], {},
     "messages[1].tool_call_id", ["matches no tool call in an earlier assistant message"]),
    ("tool result without id", [USER, assistant(call("call_1")), {"role": "tool", "content": "18"}], {},
     "messages[2].tool_call_id", ["needs tool_call_id"]),
    ("tool result with null id", [USER, assistant(call("call_1")), tool_result(None)], {},
     "messages[2].tool_call_id", ["needs tool_call_id"]),
    ("arguments an array", [USER, assistant(call("c1", "[1, 2]"))], {}, "messages[1].tool_calls[0].function.arguments",
     ["must be a JSON object, got an array", "wrap them as {...}"]),
    ("arguments a string", [USER, assistant(call("c1", '"Paris"'))], {}, "messages[1].tool_calls[0].function.arguments",
     ["must be a JSON object, got a string"]),
    ("arguments a number", [USER, assistant(call("c0"), call("c1", "42"))], {},
     "messages[1].tool_calls[1].function.arguments", ["got a number"]),
    ("arguments not JSON", [USER, assistant(call("c1", "{city: Paris}"))], {},
     "messages[1].tool_calls[0].function.arguments", ["not valid JSON", "send a JSON object"]),
    ("arguments null", [USER, assistant({"id": "c1", "type": "function", "function": {"name": "f", "arguments": None}})],
     {}, "messages[1].tool_calls[0].function.arguments", ["must be a JSON object in a string"]),
    ("tool call without id", [USER, assistant({"type": "function", "function": {"name": "f", "arguments": "{}"}})], {},
     "messages[1].tool_calls[0].id", ["needs an id"]),
    ("tool call without function", [USER, assistant({"id": "c1", "type": "function"})], {},
     "messages[1].tool_calls[0].function", ["needs function="]),
    ("tool call without name", [USER, assistant({"id": "c1", "function": {"arguments": "{}"}})], {},
     "messages[1].tool_calls[0].function.name", ["needs the function's name"]),
    ("tool call not a dict", [USER, assistant("c1")], {}, "messages[1].tool_calls[0]", ["must be a dict"]),  # type: ignore[arg-type]
    ("tool calls on a user message", [{"role": "user", "content": "x", "tool_calls": [call("c1")]}], {},
     "messages[0].tool_calls", ["only assistant messages carry tool_calls"]),
    ("duplicate ids in one turn", [USER, assistant(call("c1"), call("c1"))], {}, "messages[1].tool_calls[1].id",
     ["'c1' is used by an earlier tool call", "tool call ids must be unique"]),
    ("duplicate ids across turns",
     [USER, assistant(call("c1")), tool_result("c1"), assistant(call("c2"), call("c1"))], {},
     "messages[3].tool_calls[1].id", ["'c1' is used by an earlier tool call", "give each call its own id"]),
    ("image without url", [{"role": "user", "content": [{"type": "text", "text": "what?"},
                                                         {"type": "image_url", "image_url": {}}]}], {},
     "messages[0].content[1].image_url.url", ["needs a url", "ImagePart(data=...)"]),
    ("image with empty url", [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": ""}}]}], {},
     "messages[0].content[0].image_url.url", ["needs a url"]),
    ("image_url missing", [{"role": "user", "content": [{"type": "image_url"}]}], {},
     "messages[0].content[0].image_url", ["needs image_url={'url'"]),
    ("llmplex image without source", [{"role": "user", "content": [{"type": "image", "detail": "low"}]}], {},
     "messages[0].content[0].url", ["neither url nor data", "pass url=... or data=..."]),
    ("text part without text", [{"role": "user", "content": [{"type": "text"}]}], {},
     "messages[0].content[0].text", ["needs text as a string"]),
    ("unsupported part type", [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}], {},
     "messages[0].content[0].type", ["'input_audio' is not supported", "use 'text' or 'image_url'"]),
    ("content of a wrong type", [{"role": "user", "content": 5}], {}, "messages[0].content",
     ["must be a string or a list of parts, got int"]),
    ("missing user content", [{"role": "user"}], {}, "messages[0].content",
     ["a user message needs content", "pass content='...'"]),
    ("null user content", [{"role": "user", "content": None}], {}, "messages[0].content",
     ["a user message needs content"]),
    ("assistant with nothing", [USER, {"role": "assistant", "content": None}], {}, "messages[1].content",
     ["needs content or tool_calls"]),
    ("temperature too high", [USER], {"temperature": 2.5}, "temperature", ["from 0 to 2", "got 2.5"]),
    ("temperature negative", [USER], {"temperature": -0.1}, "temperature", ["from 0 to 2"]),
    ("temperature nan", [USER], {"temperature": float("nan")}, "temperature", ["from 0 to 2", "got nan"]),
    ("temperature inf", [USER], {"temperature": float("inf")}, "temperature", ["from 0 to 2", "got inf"]),
    ("temperature bool", [USER], {"temperature": True}, "temperature", ["not a boolean"]),
    ("temperature text", [USER], {"temperature": "hot"}, "temperature", ["valid number"]),
    ("top_p too high", [USER], {"top_p": 1.01}, "top_p", ["from 0 to 1", "got 1.01"]),
    ("top_p negative", [USER], {"top_p": -1}, "top_p", ["from 0 to 1"]),
    ("top_p nan", [USER], {"top_p": float("nan")}, "top_p", ["from 0 to 1"]),
    ("top_p -inf", [USER], {"top_p": float("-inf")}, "top_p", ["from 0 to 1"]),
    ("max_tokens zero", [USER], {"max_tokens": 0}, "max_tokens",
     ["must be a positive integer, got 0", "pass 1 or more"]),
    ("max_tokens negative", [USER], {"max_tokens": -5}, "max_tokens", ["got -5", "pass 1 or more"]),
    ("max_tokens fraction", [USER], {"max_tokens": 1.5}, "max_tokens", ["valid integer"]),
    ("n zero", [USER], {"n": 0}, "n", ["must be a positive integer"]),
    ("unknown parameter", [USER], {"frequency_penalty": 0.5}, "frequency_penalty",
     ["not a llmplex parameter", "extra={'frequency_penalty': ...}"]),
    ("misspelt parameter", [USER], {"max_token": 5}, "max_token",
     ["did you mean 'max_tokens'?", "extra={'max_token': ...}"]),
    ("unknown tool in tool_choice", [USER], {"tools": [WEATHER_TOOL], "tool_choice": {"name": "get_time"}},
     "tool_choice", ["names tool 'get_time', which is not in tools", "known: 'get_weather'",
                     "add it to tools or fix the name"]),
    ("named tool_choice without tools", [USER],
     {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, "tool_choice",
     ["not in tools", "known: none"]),
    ("tool_choice required without tools", [USER], {"tool_choice": "required"}, "tool_choice",
     ["needs at least one tool", "pass tools=[...]"]),
    ("tool_choice bogus string", [USER], {"tool_choice": "always"}, "tool_choice",
     ["'always' is not a tool_choice", "use 'auto', 'none' or 'required'"]),
    ("tool_choice bad dict", [USER], {"tool_choice": {"type": "function"}}, "tool_choice",
     ["{'type': 'function', 'function': {'name': ...}}"]),
    ("tools not a list", [USER], {"tools": WEATHER_TOOL}, "tools", ["expected a list of tools", "wrap a single tool"]),
    ("tool of a wrong type", [USER], {"tools": [42]}, "tools[0]", ["expected a Tool, a function or a dict", "got int"]),
    ("tool with a bad name", [USER], {"tools": [{"type": "function", "function": {"name": "get weather"}}]},
     "tools[0].name", ["1 to 64 letters, digits", "rename the tool"]),
    ("tool without a name", [USER], {"tools": [{"type": "function", "function": {"parameters": {}}}]},
     "tools[0].name", ["missing"]),
    ("duplicate tool names", [USER], {"tools": [WEATHER_TOOL, WEATHER_TOOL]}, "tools[1].name",
     ["'get_weather' is already the name of tools[0]", "give every tool its own name"]),
    ("response_format json_schema without schema", [USER], {"response_format": {"type": "json_schema"}},
     "response_format", ["needs json_schema={'name': ..., 'schema': {...}}"]),
    ("response_format text with schema", [USER],
     {"response_format": {"type": "text", "json_schema": {"name": "x", "schema": {}}}}, "response_format",
     ["takes no json_schema"]),
    ("response_format unknown type", [USER], {"response_format": {"type": "yaml"}}, "response_format.type",
     ["'text', 'json_object' or 'json_schema'"]),
    ("response_format unknown key", [USER], {"response_format": {"type": "json_object", "strict": True}},
     "response_format.strict", ["unknown field", "pass vendor-only keys in extra"]),
    ("extra not a dict", [USER], {"extra": ["top_k", 5]}, "extra", ["expected a dict of vendor-only parameters"]),
    ("extra with a non-string key", [USER], {"extra": {1: 2}}, "extra", ["keys must be strings"]),
    ("stop of a wrong type", [USER], {"stop": 5}, "stop", ["valid string"]),
    ("empty model", [USER], {"model": ""}, "model", ["at least 1 character"]),
]


@pytest.mark.parametrize(("messages", "params", "field", "phrases"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_requests(messages: Any, params: Dict[str, Any], field: str, phrases: List[str]) -> None:
    params = dict(params)
    model = params.pop("model", "gpt-4o")
    with pytest.raises(InvalidRequestError) as info:
        make_request(model, messages, **params)
    error = info.value
    assert type(error) is llmplex.InvalidRequestError
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    for phrase in phrases:
        assert phrase in str(error)


def test_valid_request_is_built() -> None:
    request = make_request(
        "gpt-4o",
        [
            {"role": "system", "content": "Be brief."},
            USER,
            assistant(call("call_1")),
            tool_result("call_1"),
            Message.assistant("18C in Paris."),
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0,
        top_p=1,
        max_tokens=100,
        stop=["\n\n"],
        seed=7,
        n=1,
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        user="u-1",
        parallel_tool_calls=False,
        extra={"top_k": 5, "enable_search": True},
        stream=True,
    )
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert request.messages[2].tool_calls == [ToolCall(id="call_1", name="get_weather", raw_arguments='{"city": "Paris"}')]
    assert request.tools is not None and request.tools[0].name == "get_weather"
    assert request.tool_choice == ToolChoice(mode="tool", name="get_weather")
    assert (request.temperature, request.top_p, request.max_tokens, request.seed, request.n) == (0.0, 1.0, 100, 7, 1)
    assert request.stop_list() == ["\n\n"]
    assert request.response_format is not None and request.response_format.json_schema is not None
    assert request.response_format.json_schema.json_schema == {"type": "object"}
    assert request.response_format.model_dump(exclude_none=True, by_alias=True) == {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": {"type": "object"}},
    }
    assert request.extra == {"top_k": 5, "enable_search": True}
    assert request.user == "u-1" and request.parallel_tool_calls is False and request.stream is True


def test_none_parameters_are_ignored_and_functions_become_tools() -> None:
    def get_time(zone: str) -> str:
        """The time in a zone."""
        return zone

    request = make_request("m", [USER], temperature=None, max_tokens=None, tools=[get_time], tool_choice="auto")
    assert request.temperature is None and request.max_tokens is None
    assert request.tools == [Tool.from_function(get_time)]
    assert request.tool_choice == ToolChoice(mode="auto")


def test_response_format_shorthand() -> None:
    request = make_request("m", [USER], response_format="json_object")
    assert request.response_format is not None and request.response_format.type == "json_object"


def test_models_and_dicts_mix() -> None:
    messages = [Message.user("Hi"), {"role": "assistant", "content": "Hello"}]
    assert coerce_messages(messages) == [Message.user("Hi"), Message(role="assistant", content="Hello")]
    assert coerce_tools(None) is None
    assert coerce_tools([Tool(name="a"), {"name": "b"}]) == [Tool(name="a"), Tool(name="b")]


def test_check_conversation_accepts_answered_calls() -> None:
    messages = coerce_messages(
        [USER, assistant(call("a"), call("b")), tool_result("b"), tool_result("a"), {"role": "user", "content": "ok"}]
    )
    check_conversation(messages)  # no error


def test_many_known_ids_are_listed_briefly() -> None:
    calls = [call(f"call_{i:02d}") for i in range(15)]
    with pytest.raises(InvalidRequestError) as info:
        make_request("m", [USER, assistant(*calls), tool_result("nope")])
    assert "'call_09' and 5 more" in str(info.value)
    assert "call_14" not in str(info.value)


# -- no echo of secrets or whole inputs ----------------------------------------------------------


def test_long_content_is_never_echoed() -> None:
    long_text = "confidential paragraph " * 500 + SECRET
    cases: List[Dict[str, Any]] = [
        {"messages": [{"role": "bot", "content": long_text}]},
        {"messages": [{"role": long_text, "content": long_text}]},
        {"messages": [{"role": SECRET, "content": "x"}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"detail": long_text}}]}]},
        {"messages": [{"role": "user", "content": [{"type": long_text}]}]},
        {"messages": [USER, tool_result(long_text, long_text)]},
        {"messages": [USER, assistant(call("c1", long_text))]},
        {"messages": [USER, assistant(call("c1", "[" + repr(long_text) + "]"))]},
        {"messages": [USER, assistant(call(long_text), call(long_text))]},
        {"messages": [{"role": "user", "content": long_text, "tool_call_id": long_text}]},
        {"messages": [USER], "tools": [WEATHER_TOOL], "tool_choice": {"name": long_text}},
        {"messages": [USER], "tool_choice": long_text},
        {"messages": [USER], "temperature": long_text},
        {"messages": [USER], "stop": {"x": long_text}},
        {"messages": [USER], "extra": long_text},
        {"messages": [USER], "response_format": {"type": long_text}},
    ]
    for params in cases:
        messages = params.pop("messages")
        with pytest.raises(InvalidRequestError) as info:
            make_request("m", messages, **params)
        text = str(info.value) + repr(info.value) + str(info.value.field)
        assert long_text not in text, params
        assert SECRET not in text, params
        assert len(text) < 600, (len(text), params)
