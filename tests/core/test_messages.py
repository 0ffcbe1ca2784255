"""Tests for llmplex.schema.messages: Message, TextPart, ImagePart, ToolCall, parse_arguments."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict

import pytest
from llmplex.errors import InvalidRequestError

from llmplex.schema.messages import FieldValueError, ImagePart, Message, TextPart, ToolCall, parse_arguments

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
PNG_B64 = base64.b64encode(PNG).decode("ascii")
SECRET = "sk-llmplex-CANARY-0123456789abcdef"


def field_error(exc: InvalidRequestError) -> FieldValueError:
    """The constructor's error as (path, reason): the same InvalidRequestError call-time
    validation raises, with ``.field`` and a message ``"<field>: <reason>"``."""
    assert type(exc) is InvalidRequestError and isinstance(exc, ValueError)
    assert exc.field is not None and exc.message.startswith(exc.field + ": ")
    return FieldValueError(exc.field, exc.message[len(exc.field) + 2 :])


# -- ImagePart -----------------------------------------------------------------------------------


def test_from_base64_keeps_the_bytes_and_media_type() -> None:
    part = ImagePart.from_base64(PNG_B64, "image/png", detail="low")
    assert part.data == PNG
    assert part.media_type == "image/png"
    assert part.detail == "low"
    assert part.url is None


def test_from_base64_ignores_mime_line_breaks() -> None:
    wrapped = "\n".join(PNG_B64[i : i + 8] for i in range(0, len(PNG_B64), 8))
    assert ImagePart.from_base64(wrapped, "image/png").data == PNG


@pytest.mark.parametrize(
    ("b64", "phrase"),
    [
        ("not base64!!", "not valid base64"),
        ("abc", "not valid base64"),  # bad padding
        ("", "empty"),
        ("data:image/png;base64," + PNG_B64, "pass it as url="),
    ],
)
def test_from_base64_rejects_bad_input(b64: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        ImagePart.from_base64(b64, "image/png")


def test_as_data_url_from_bytes() -> None:
    part = ImagePart(data=PNG, media_type="image/png")
    assert part.as_data_url() == f"data:image/png;base64,{PNG_B64}"


def test_as_data_url_returns_urls_unchanged() -> None:
    assert ImagePart(url="https://example.com/cat.jpg").as_data_url() == "https://example.com/cat.jpg"
    data_url = f"data:image/jpeg;base64,{PNG_B64}"
    assert ImagePart(url=data_url).as_data_url() == data_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"data:image/png;base64,{PNG_B64}", ("image/png", PNG_B64)),
        (f"data:image/webp;name=a.webp;base64,{PNG_B64}", ("image/webp", PNG_B64)),
        (f"DATA:image/gif;BASE64,{PNG_B64}", ("image/gif", PNG_B64)),
        (f"data:;base64,{PNG_B64}", ("application/octet-stream", PNG_B64)),
        (f"data:base64,{PNG_B64}", ("application/octet-stream", PNG_B64)),
        ("data:text/plain,hello", None),  # not base64-encoded
        ("https://example.com/a.png", None),
        ("http://example.com/a;base64,xyz", None),
    ],
)
def test_as_base64_for_urls(url: str, expected: Any) -> None:
    assert ImagePart(url=url).as_base64() == expected


def test_as_base64_for_bytes() -> None:
    assert ImagePart(data=PNG, media_type="image/png").as_base64() == ("image/png", PNG_B64)


@pytest.mark.parametrize(
    ("kwargs", "path", "phrase"),
    [
        ({}, "url", "neither url nor data"),
        ({"url": ""}, "url", "neither url nor data"),
        ({"url": "   "}, "url", "neither url nor data"),
        ({"url": "https://x/y.png", "data": PNG, "media_type": "image/png"}, "data", "both url and data"),
        ({"data": PNG}, "media_type", "needs media_type"),
        ({"data": b"", "media_type": "image/png"}, "data", "empty"),
        ({"data": PNG, "media_type": "png"}, "media_type", "look like 'image/png'"),
        ({"data": "@@@", "media_type": "image/png"}, "data", "not valid base64"),
    ],
)
def test_image_part_source_errors(kwargs: Dict[str, Any], path: str, phrase: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        ImagePart(**kwargs)
    error = field_error(info.value)
    assert error.path == path
    assert phrase in error.reason


def test_image_part_data_given_as_base64_text_is_decoded() -> None:
    assert ImagePart(data=PNG_B64, media_type="image/png").data == PNG  # type: ignore[arg-type]


def test_image_part_json_round_trip_with_binary_bytes() -> None:
    part = ImagePart(data=PNG, media_type="image/png", detail="high")
    dumped = part.model_dump_json()
    assert json.loads(dumped)["data"] == PNG_B64
    assert ImagePart.model_validate_json(dumped) == part
    assert ImagePart.model_validate(part.model_dump(mode="json")) == part


# -- ToolCall ------------------------------------------------------------------------------------


def test_raw_arguments_fill_parsed_arguments_exactly() -> None:
    raw = '{ "city" :"Zürich",\n  "days": [1, 2] }'
    call = ToolCall(id="c1", name="f", raw_arguments=raw)
    assert call.arguments == {"city": "Zürich", "days": [1, 2]}
    assert call.raw_arguments == raw


def test_dict_arguments_fill_raw_arguments() -> None:
    call = ToolCall(id="c1", name="f", arguments={"city": "Zürich", "n": 1})
    assert call.raw_arguments == '{"city": "Zürich", "n": 1}'
    assert call.arguments == {"city": "Zürich", "n": 1}


def test_string_arguments_are_taken_as_raw_text() -> None:
    call = ToolCall(id="c1", name="f", arguments='{"b":1,"a":2}')  # type: ignore[arg-type]
    assert call.raw_arguments == '{"b":1,"a":2}'
    assert call.arguments == {"b": 1, "a": 2}
    assert list(call.arguments) == ["b", "a"]


@pytest.mark.parametrize("raw", ["", "   ", "\n"])
def test_empty_raw_arguments_mean_no_arguments(raw: str) -> None:
    call = ToolCall(id="c1", name="f", raw_arguments=raw)
    assert call.arguments == {}
    assert call.raw_arguments == raw


def test_no_arguments_at_all() -> None:
    call = ToolCall(id="c1", name="f")
    assert (call.arguments, call.raw_arguments) == ({}, "")


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ("[1, 2]", "got an array"),
        ("42", "got a number"),
        ('"text"', "got a string"),
        ("null", "got null"),
        ("true", "got a boolean"),
        ("{", "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
    ],
)
def test_non_object_arguments_raise(raw: str, phrase: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        ToolCall(id="c1", name="f", raw_arguments=raw)
    error = field_error(info.value)
    assert error.path == "raw_arguments"
    assert phrase in error.reason
    with pytest.raises(ValueError, match=phrase):
        parse_arguments(raw)


def test_unserialisable_dict_arguments_raise_invalid_request() -> None:
    with pytest.raises(InvalidRequestError) as info:
        ToolCall(id="c1", name="f", arguments={"when": object()})
    assert field_error(info.value).path == "arguments.when"
    assert "a value of type object is not a JSON value" in field_error(info.value).reason


def test_both_given_are_kept_as_given() -> None:
    # The stream accumulator keeps unparseable text with empty parsed arguments.
    call = ToolCall(id="c1", name="f", arguments={}, raw_arguments='{"a": ')
    assert (call.arguments, call.raw_arguments) == ({}, '{"a": ')


def test_both_given_with_empty_text_serialises_the_parsed_arguments() -> None:
    call = ToolCall(id="c1", name="f", arguments={"a": 1}, raw_arguments="")
    assert call.raw_arguments == '{"a": 1}'


def test_parse_arguments() -> None:
    assert parse_arguments('{"a": {"b": [1, null]}}') == {"a": {"b": [1, None]}}
    assert parse_arguments("") == {}


# -- Message -------------------------------------------------------------------------------------


def test_helpers_build_the_expected_messages() -> None:
    call = ToolCall(id="call_1", name="get_weather", raw_arguments='{"city": "Paris"}')
    assert Message.system("Be brief.") == Message(role="system", content="Be brief.")
    assert Message.user("Hi") == Message(role="user", content="Hi")
    assistant = Message.assistant(tool_calls=[call])
    assert assistant.content is None and assistant.tool_calls == [call]
    tool = Message.tool("call_1", "18", name="get_weather")
    assert (tool.role, tool.tool_call_id, tool.content, tool.name) == ("tool", "call_1", "18", "get_weather")


def test_text_and_parts() -> None:
    message = Message.user([TextPart(text="What is "), ImagePart(url="https://x/y.png"), TextPart(text="this?")])
    assert message.text == "What is this?"
    assert len(message.parts) == 3
    assert Message.user("hi").parts == [TextPart(text="hi")]
    assert Message.user("").parts == []
    assert Message.assistant(tool_calls=[ToolCall(id="a", name="f")]).text == ""


def test_vendor_extras_are_kept() -> None:
    message = Message(role="assistant", content="x", reasoning_content="because", extra={"refusal": None})
    assert message.reasoning_content == "because"
    assert message.extra == {"refusal": None}


@pytest.mark.parametrize(
    ("kwargs", "path", "phrase"),
    [
        ({"role": "tool", "content": "42"}, "tool_call_id", "needs tool_call_id"),
        ({"role": "tool", "content": "42", "tool_call_id": ""}, "tool_call_id", "needs tool_call_id"),
        ({"role": "user"}, "content", "needs content"),
        ({"role": "user", "content": None}, "content", "needs content"),
        ({"role": "system"}, "content", "needs content"),
        ({"role": "assistant"}, "content", "needs content or tool_calls"),
        (
            {"role": "user", "content": "x", "tool_calls": [{"id": "a", "name": "f"}]},
            "tool_calls",
            "only assistant messages carry tool_calls",
        ),
        ({"role": "user", "content": "x", "tool_call_id": "a"}, "tool_call_id", "only tool messages"),
        ({"role": "user", "content": "x", "extra": {"content": "y"}}, "extra.content", "set it directly"),
    ],
)
def test_message_role_rules(kwargs: Dict[str, Any], path: str, phrase: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        Message(**kwargs)
    error = field_error(info.value)
    assert error.path == path
    assert phrase in error.reason


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(InvalidRequestError) as info:
        Message(role="bot", content="x")  # type: ignore[arg-type]
    assert info.value.field == "role" and "'bot' is not a role" in info.value.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"role": SECRET, "content": "x"},
        {"role": "user", "content": "x", "name": [SECRET]},
        {"role": "user", "content": {"api_key": SECRET}},
        {"role": "user", "content": [{"type": "text", "text": SECRET, "oops": SECRET}]},
        {"role": "user", "content": "x", "tool_call_id": 5, "reasoning_content": {"k": SECRET}},
        {"role": "assistant", "tool_calls": [{"id": "a", "name": "f", "raw_arguments": f"[{SECRET!r}]"}]},
        {"role": "user", "content": "x", "unknown_field": SECRET},
    ],
)
def test_validation_errors_never_contain_the_input(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError) as info:
        Message(**kwargs)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert SECRET not in repr(info.value.args)


def test_image_and_tool_call_errors_never_contain_the_input() -> None:
    with pytest.raises(InvalidRequestError) as info:
        ImagePart(data=SECRET + "!!", media_type="image/png")  # type: ignore[arg-type]
    assert SECRET not in str(info.value)
    with pytest.raises(InvalidRequestError) as info:
        ToolCall(id=SECRET, name=["f"], raw_arguments=SECRET)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)
