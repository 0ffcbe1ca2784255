"""The public models' constructors raise the InvalidRequestError call-time validation raises, and
what they accept can always be sent: plain JSON in forwarded fields, UTF-8-encodable text."""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List

import pytest

import llmplex
from llmplex.errors import InvalidRequestError
from llmplex.schema.jsonvalue import MAX_DEPTH, check_json
from llmplex.schema.invalid import FieldValueError
from llmplex.schema.messages import ImagePart, Message, TextPart, ToolCall
from llmplex.schema.request import ChatRequest, JSONSchemaFormat, ResponseFormat
from llmplex.schema.tools import Tool, ToolChoice
from llmplex.schema.validation import make_request


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _circular() -> Dict[str, Any]:
    loop: Dict[str, Any] = {"a": 1}
    loop["self"] = loop
    return loop


CONSTRUCTORS: List[Any] = [
    (lambda: Message(role="user"), "content", "needs content"),
    (lambda: Message(role="robot", content="x"), "role", "'robot' is not a role"),
    (lambda: Message(content="x"), "role", "missing"),
    (lambda: ImagePart(), "url", "neither url nor data"),
    (lambda: ImagePart.from_base64("!!", "image/png"), "data", "not valid base64"),
    (lambda: ImagePart(data="!!", media_type="image/png"), "data", "not valid base64"),
    (lambda: ImagePart.from_base64(b"aGk=", "image/png"), "data", "takes base64 text"),
    (lambda: Tool(name="a b"), "name", "tool name must be"),
    (lambda: Tool(name="f", parameters=[1]), "parameters", "valid dictionary"),
    (lambda: TextPart(), "text", "missing"),
    (lambda: ToolCall(id="c", name="f", raw_arguments="[1]"), "raw_arguments", "must be a JSON object"),
    (lambda: ToolChoice(mode="sometimes"), "mode", "Input should be"),
    (lambda: ChatRequest(model="m", messages=[]), "messages", "at least 1 item"),
    (lambda: ChatRequest(model="m", messages=[Message.user("x")], temperature=9), "temperature", "from 0 to 2"),
    (lambda: ResponseFormat(type="xml"), "type", "Input should be"),
    (lambda: JSONSchemaFormat(name=""), "name", "at least 1 character"),
    (lambda: Message(role="user", content=[{"type": "text"}]), "content[0].text", "missing"),
    (lambda: Message(role="assistant", tool_calls=[{"id": "c", "name": "f", "raw_arguments": "{"}]),
     "tool_calls[0].raw_arguments", "not valid JSON"),
]


@pytest.mark.parametrize("build,field,phrase", CONSTRUCTORS)
def test_constructors_raise_invalid_request_naming_the_field(build: Callable[[], Any], field: str, phrase: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        build()
    error = info.value
    assert type(error) is llmplex.InvalidRequestError
    assert error.field == field
    assert error.message.startswith(f"{field}: ") and phrase in error.message
    assert isinstance(error, ValueError)  # what `except ValueError` around pydantic caught


def test_the_constructor_and_the_call_say_the_same() -> None:
    with pytest.raises(InvalidRequestError) as built:
        Message(role="user")
    with pytest.raises(InvalidRequestError) as called:
        make_request("m", [{"role": "user"}])
    assert called.value.field == "messages[0]." + str(built.value.field)
    assert called.value.message == "messages[0]." + built.value.message


NOT_JSON: List[Any] = [
    (float("nan"), "", "nan is not a JSON number"),
    ({"t": math.inf}, "t", "inf is not a JSON number"),
    ({"b": b"raw"}, "b", "type bytes is not a JSON value"),
    ({"s": {1, 2}}, "s", "type set is not a JSON value"),
    ({"o": object()}, "o", "type object is not a JSON value"),
    ({(1, 2): "x"}, "", "key of type tuple"),
    ({"k": [1, {"x": "\ud800"}]}, "k[1].x", "lone surrogate"),
    ({"\udfff": 1}, "", "lone surrogate"),
    ({"big": 10**5000}, "big", "too many digits"),
    (_circular(), "self", "contains itself"),
    (_nested(MAX_DEPTH + 1), "", f"deeper than {MAX_DEPTH}"),
    ({"odd key": math.nan}, "['odd key']", "nan"),
]


@pytest.mark.parametrize("value,path,phrase", NOT_JSON)
def test_check_json_names_the_first_bad_place(value: Any, path: str, phrase: str) -> None:
    with pytest.raises(FieldValueError) as info:
        check_json(value, "")
    assert phrase in info.value.reason
    assert info.value.path.startswith(path)


def test_check_json_accepts_plain_json_and_deep_but_bounded_nesting() -> None:
    shared = {"x": 1}
    check_json({"a": [1, 2.5, True, None, "é", (1, 2)], "twice": [shared, shared]}, "")  # shared is no cycle
    check_json(_nested(MAX_DEPTH - 1), "")


FORWARDED: List[Any] = [
    (lambda v: ChatRequest(model="m", messages=[Message.user("x")], extra={"v": v}), "extra.v"),
    (lambda v: Message(role="user", content="x", extra={"v": v}), "extra.v"),
    (lambda v: TextPart(text="x", extra={"v": v}), "extra.v"),
    (lambda v: ImagePart(url="https://x/y.png", extra={"v": v}), "extra.v"),
    (lambda v: ToolCall(id="c", name="f", arguments={"v": v}), "arguments.v"),
    (lambda v: ToolCall(id="c", name="f", arguments={}, extra={"v": v}), "extra.v"),
    (lambda v: Tool(name="f", parameters={"type": "object", "v": v}), "parameters.v"),
    (lambda v: JSONSchemaFormat(name="s", schema={"v": v}), "json_schema.v"),
]
BAD_VALUES = [math.nan, -math.inf, b"x", {1}, object(), _circular(), _nested(10_000), "a\ud83dz"]


@pytest.mark.parametrize("build,field", FORWARDED)
@pytest.mark.parametrize("bad", BAD_VALUES, ids=["nan", "-inf", "bytes", "set", "object", "circular", "deep", "surrogate"])
def test_forwarded_fields_refuse_what_is_not_json(build: Callable[[Any], Any], field: str, bad: Any) -> None:
    with pytest.raises(InvalidRequestError) as info:
        build(bad)
    assert str(info.value.field).startswith(field)


@pytest.mark.parametrize(
    "build,field",
    [
        (lambda: Message.user("half an emoji \ud83d"), "content"),
        (lambda: Message(role="user", content=[TextPart(text="x"), {"type": "text", "text": "\udc00"}]), "content[1].text"),
        (lambda: Message.tool("call\ud800", "result"), "tool_call_id"),
        (lambda: Tool(name="f", description="\ud800"), "description"),
        (lambda: ChatRequest(model="m", messages=[Message.user("x")], stop=["ok", "\ud800"]), "stop[1]"),
    ],
)
def test_text_that_cannot_be_utf8_is_refused_by_name(build: Callable[[], Any], field: str) -> None:
    with pytest.raises(InvalidRequestError, match="lone surrogate") as info:
        build()
    assert info.value.field == field


def test_call_time_names_the_place_inside_the_conversation() -> None:
    messages = [{"role": "user", "content": "x", "cache": {"ttl": math.nan}}]
    with pytest.raises(InvalidRequestError) as info:
        make_request("m", messages)
    assert info.value.field == "messages[0].extra.cache.ttl"
    with pytest.raises(InvalidRequestError) as tool:
        make_request("m", [{"role": "user", "content": "x"}],
                     tools=[{"type": "function", "function": {"name": "f", "parameters": {"p": {1}}}}])
    assert tool.value.field == "tools[0].parameters.p"
    with pytest.raises(InvalidRequestError) as extra:
        make_request("m", [{"role": "user", "content": "x"}], extra={"logit_bias": {"1": math.inf}})
    assert extra.value.field == "extra.logit_bias.1" or extra.value.field == "extra.logit_bias['1']"
