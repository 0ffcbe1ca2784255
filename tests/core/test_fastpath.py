"""The hot paths build, without pydantic's validation, exactly the instances validation builds,
and leave every value they cannot vouch for to the models (which word the errors)."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplex.errors import InvalidRequestError
from llmplex.schema.fastpath import plain_message
from llmplex.schema.messages import Message
from llmplex.schema.model import _FACTS, _required_missing, trusted
from llmplex.schema.request import ChatRequest, ResponseFormat
from llmplex.schema.validation import make_request
from pydantic import BaseModel


def same_instance(fast: BaseModel, full: BaseModel) -> None:
    """Equal as validation would make them: fields in order, fields set, private state."""
    assert type(fast) is type(full)
    assert list(fast.__dict__) == list(full.__dict__)
    assert fast.__dict__ == full.__dict__
    assert fast.model_fields_set == full.model_fields_set
    assert fast.__pydantic_private__ == full.__pydantic_private__
    assert fast.__pydantic_extra__ == full.__pydantic_extra__
    assert fast == full
    assert fast.model_dump() == full.model_dump()
    for name, value in fast.__dict__.items():
        if isinstance(value, (list, dict)) and value is not None:
            assert value is not full.__dict__[name] or not value  # no list shared with another instance


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@settings(max_examples=200, deadline=None)
@given(role=st.sampled_from(["system", "user", "assistant"]), content=texts)
def test_a_plain_message_is_the_validated_one(role: str, content: str) -> None:
    fast = plain_message({"role": role, "content": content})
    assert fast is not None
    same_instance(fast, Message(role=role, content=content))


@pytest.mark.parametrize(
    "item",
    [
        {"role": "tool", "content": "x"},  # needs tool_call_id
        {"role": "developer", "content": "x"},
        {"role": "user", "content": None},
        {"role": "user", "content": ["x"]},
        {"role": "user", "content": "lone \ud800"},
        {"role": "user", "content": "x", "name": "n"},
        {"role": "user"},
        {"content": "x", "name": "n"},
        {"role": b"user", "content": "x"},
    ],
)
def test_anything_else_is_left_to_the_models(item: Dict[str, Any]) -> None:
    assert plain_message(item) is None


@pytest.mark.parametrize(
    "messages, error_field",
    [
        ([{"role": "user", "content": "lone \ud800"}], "messages[0].content"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
        ([{"role": "user", "content": "ok"}, {"role": "bot", "content": "x"}], "messages[1].role"),
    ],
)
def test_bad_plain_messages_get_the_models_errors(messages: Any, error_field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make_request("m", messages)
    assert caught.value.field == error_field


PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "temperature": st.one_of(st.floats(0, 2), st.integers(0, 2)),
        "top_p": st.floats(0, 1),
        "max_tokens": st.integers(1, 10**6),
        "n": st.integers(1, 4),
        "seed": st.integers(-(2**70), 2**70),
        "user": texts,
        "parallel_tool_calls": st.booleans(),
        "stop": st.one_of(texts, st.lists(texts, max_size=3)),
        "extra": st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), texts, st.none()), max_size=3),
    },
)


@settings(max_examples=200, deadline=None)
@given(params=PARAMS, stream=st.booleans(), content=texts)
def test_a_plain_request_is_the_validated_one(params: Dict[str, Any], stream: bool, content: str) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": content}]
    fast = make_request("gpt-x", messages, stream=stream, **params)
    extra = params.pop("extra", {})
    full = ChatRequest(
        model="gpt-x",
        messages=[Message(**m) for m in messages],
        tools=None,
        tool_choice=None,
        stream=stream,
        extra=extra,
        headers={},
        **params,
    )
    same_instance(fast, full)
    for a, b in zip(fast.messages, full.messages):
        same_instance(a, b)


@pytest.mark.parametrize(
    "params, error_field",
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": False}, "n"),
        ({"stop": ["ok", "\ud800"]}, "stop[1]"),
        ({"user": "\udfff"}, "user"),
        ({"extra": {"k": float("inf")}}, "extra.k"),
    ],
)
def test_bad_parameters_get_the_models_errors(params: Dict[str, Any], error_field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        make_request("m", [{"role": "user", "content": "x"}], **params)
    assert caught.value.field == error_field


def test_values_only_validation_converts_still_convert() -> None:
    request = make_request("m", [{"role": "user", "content": "x"}], temperature="0.5", stop=("a",),
                           response_format="json_object")
    assert request.temperature == 0.5
    assert request.stop == ["a"]
    assert request.response_format == ResponseFormat(type="json_object")


def test_trusted_fills_defaults_and_fresh_containers() -> None:
    one = trusted(Message, {"role": "user", "content": "a"})
    two = trusted(Message, {"role": "user", "content": "b"})
    one.extra["k"] = 1
    assert two.extra == {}
    assert one._null_keys == frozenset()
    assert _required_missing(Message, {"content": "a"}) == ["role"]
    assert Message in _FACTS


# -- replies ----------------------------------------------------------------------------------

from llmplex.schema import fastpath as fast  # noqa: E402
from llmplex.schema.messages import ToolCall  # noqa: E402
from llmplex.schema.response import ChatChunk, ChatResponse, Choice, Usage  # noqa: E402


@settings(max_examples=100, deadline=None)
@given(content=st.one_of(st.none(), texts), reasoning=st.one_of(st.none(), texts), calls=st.booleans())
def test_reply_parts_are_the_validated_ones(content: Any, reasoning: Any, calls: bool) -> None:
    def tool_calls() -> Any:  # a fresh list each: a provider hands its list over
        return [ToolCall(id="c1", name="f", raw_arguments="{}")] if calls else None

    if content is None and not calls:
        with pytest.raises(InvalidRequestError) as caught:
            fast.reply_message(content, tool_calls(), reasoning)
        assert caught.value.field == "content"
        return
    message = fast.reply_message(content, tool_calls(), reasoning)
    same_instance(message, Message(role="assistant", content=content, tool_calls=tool_calls(), reasoning_content=reasoning))
    choice = fast.reply_choice(1, message, "stop", "end")
    same_instance(choice, Choice(index=1, message=message, finish_reason="stop", finish_reason_raw="end"))
    usage = fast.usage(3, 1, 4, None, 2)
    same_instance(usage, Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4, cached_tokens=None, reasoning_tokens=2))
    values: Dict[str, Any] = dict(id="r", provider="p", model="m", message=message, finish_reason="stop",
                                  finish_reason_raw="end", usage=usage)
    same_instance(fast.reply(**values, raw={"a": 1}, choices=[choice]),
                  ChatResponse(**values, raw={"a": 1}, choices=[choice]))


@pytest.mark.parametrize("where", ["content", "reasoning"])
def test_reply_text_with_a_lone_surrogate_is_refused_by_the_model(where: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        if where == "content":
            fast.reply_message("a\ud800", None, None)
        else:
            fast.reply_message("ok", None, "\udc00")
    assert getattr(caught.value, "from_schema", False)  # the vendor's fault (wire.vendor_fault)


def test_positional_chunk_is_the_unchecked_and_the_validated_one() -> None:
    args = ("t", "r", [], "stop", "end", "id", "m", "raw", 2)
    positional = ChatChunk.positional(*args)
    keywords = dict(text="t", reasoning="r", tool_calls=[], finish_reason="stop", finish_reason_raw="end", id="id",
                    model="m", raw="raw", choice=2)
    same_instance(positional, ChatChunk.unchecked(**keywords))
    validated = ChatChunk(**keywords, usage=None, provider_state={})
    same_instance(positional, validated)
    positional.usage = Usage()  # assignment still tracked per instance
    assert ChatChunk.positional(*args).model_fields_set == validated.model_fields_set


ARGUMENTS = st.dictionaries(
    st.text(max_size=4),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                 lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
                 max_leaves=6),
    max_size=3,
)


@settings(max_examples=200, deadline=None)
@given(arguments=ARGUMENTS, as_text=st.booleans(), name=st.sampled_from(["f", "get_weather", "bad\ud800"]))
def test_a_vendor_tool_call_is_the_validated_one_or_left_to_the_model(arguments: Any, as_text: bool, name: str) -> None:
    import json

    raw = json.dumps(arguments) if as_text else None
    fast_call = fast.vendor_tool_call("call_1", name, arguments, raw)
    try:
        full = ToolCall(id="call_1", name=name, arguments=arguments, **({"raw_arguments": raw} if as_text else {}))
    except InvalidRequestError:
        assert fast_call is None  # NaN, a lone surrogate: the model words the refusal
        return
    if fast_call is not None:
        same_instance(fast_call, full)


def test_vendor_tool_call_leaves_odd_values_to_the_model() -> None:
    assert fast.vendor_tool_call("c", "f", {"x": float("nan")}, None) is None
    assert fast.vendor_tool_call("c", "f", {"x": 1}, "") is None  # ToolCall fills the empty text
    assert fast.vendor_tool_call(1, "f", {}, "{}") is None  # type: ignore[arg-type]
    assert fast.vendor_tool_call("c", "f", {}, "{}") == ToolCall(id="c", name="f", raw_arguments="{}")
