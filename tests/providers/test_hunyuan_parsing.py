"""Hunyuan reply and stream parsing, unit by unit, and fuzzed: whatever Tencent (or a broken
proxy) sends, the parsers raise nothing but llmplex errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex.errors import LLMError
from llmplex.provider.contract import WireResponse
from llmplex.providers.hunyuan import Hunyuan, HunyuanStreamParser, error_class_for_code
from llmplex.schema.request import ChatRequest
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.schema.response import ChatChunk
from llmplex.transport.sse import SSEDecoder, SSEEvent

NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"
REQUEST = ChatRequest(model="hunyuan-t1-latest", messages=[llmplex.Message.user("你好")])
STREAM_REQUEST = REQUEST.model_copy(update={"stream": True})


def provider() -> Hunyuan:
    client = llmplex.Client(
        {"providers": {"hunyuan": {"secret_id": "AKIDEXAMPLE0000000000", "secret_key": "EXAMPLEkey"}}},
        clock=llmplex.FixedClock(1700000000),
    )
    found = client.provider("hunyuan")
    assert isinstance(found, Hunyuan)
    return found


def reply(payload: Any, status: int = 200) -> WireResponse:
    return WireResponse(status, {"content-type": "application/json"}, json.dumps(payload, ensure_ascii=False).encode())


def feed_all(events: List[Dict[str, Any]]) -> "tuple[HunyuanStreamParser, List[ChatChunk]]":
    parser = provider().stream_parser(STREAM_REQUEST)
    chunks: List[ChatChunk] = []
    for event in events:
        chunks.extend(parser.feed(SSEEvent(data=json.dumps(event, ensure_ascii=False))))
    return parser, chunks


def delta_event(delta: Dict[str, Any], finish: str = "", usage: Optional[Dict[str, int]] = None) -> Dict[str, Any]:
    return {"Note": NOTE, "Choices": [{"FinishReason": finish, "Delta": delta}], "Created": 1, "Id": "id-1",
            "Usage": usage or {"PromptTokens": 1, "CompletionTokens": 1, "TotalTokens": 2}}


# --- replies --------------------------------------------------------------------------------


def test_unwrapped_reply_as_tccli_prints_it_is_accepted() -> None:
    # tccli Example 5 prints the inner object only.
    parsed = provider().parse_response(reply({
        "Note": NOTE, "Choices": [{"FinishReason": "stop", "Message": {"Role": "assistant", "Content": "你好！"}}],
        "Created": 1710902312, "Id": "e4657570", "Usage": {"PromptTokens": 3, "CompletionTokens": 14, "TotalTokens": 17},
    }), REQUEST)
    assert parsed.text == "你好！" and parsed.id == "e4657570"


def test_reasoning_cached_tokens_and_moderation_level() -> None:
    parsed = provider().parse_response(reply({"Response": {
        "RequestId": "r-1", "Id": "r-1", "Created": 1, "Note": NOTE,
        "Choices": [{"FinishReason": "stop", "ModerationLevel": "1",
                     "Message": {"Role": "assistant", "Content": "答案", "ReasoningContent": "先想一想"}}],
        "Usage": {"PromptTokens": 10, "CompletionTokens": 5, "TotalTokens": 15, "PromptTokensDetails": {"CachedTokens": "8"}},
    }}), REQUEST)
    assert parsed.message.reasoning_content == "先想一想"
    assert parsed.usage == llmplex.Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15, cached_tokens=8)
    # Fields with no neutral home (Note, ModerationLevel, RequestId) stay in raw.
    assert parsed.raw["Response"]["Choices"][0]["ModerationLevel"] == "1"


@pytest.mark.parametrize(
    "raw, expected",
    [("stop", "stop"), ("tool_calls", "tool_calls"), ("sensitive", "content_filter"), ("length", "length"), ("novel", "other")],
)
def test_finish_reasons_are_normalised_and_kept_raw(raw: str, expected: str) -> None:
    parsed = provider().parse_response(reply({"Response": {
        "RequestId": "r", "Choices": [{"FinishReason": raw, "Message": {"Role": "assistant", "Content": "x"}}]}}), REQUEST)
    assert (parsed.finish_reason, parsed.finish_reason_raw) == (expected, raw)


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"Response": {"RequestId": "r"}},
        {"Response": {"RequestId": "r", "Choices": []}},
        {"Response": {"RequestId": "r", "Choices": [{"FinishReason": "stop"}]}},
        {"Response": {"RequestId": "r", "Error": "text"}},
        {"Response": {"Choices": [{"Message": {"ToolCalls": [{"Function": {"Name": "f", "Arguments": "[1]"}}]}}]}},
        {"unrelated": True},
    ],
)
def test_malformed_replies_are_protocol_errors_with_raw(payload: Any) -> None:
    response = reply(payload)
    with pytest.raises(llmplex.ProtocolError) as info:
        provider().parse_response(response, REQUEST)
    assert info.value.raw


@pytest.mark.parametrize(
    "code, expected",
    [
        ("AuthFailure.SignatureFailure", llmplex.AuthenticationError),
        ("AuthFailure.SignatureExpire", llmplex.AuthenticationError),
        ("AuthFailure.SecretIdNotFound", llmplex.AuthenticationError),
        ("UnauthorizedOperation", llmplex.PermissionDeniedError),
        ("RequestLimitExceeded", llmplex.RateLimitError),
        ("RequestLimitExceeded.UinLimitExceeded", llmplex.RateLimitError),
        ("LimitExceeded", llmplex.RateLimitError),
        ("FailedOperation.EngineServerLimitExceeded", llmplex.RateLimitError),
        ("FailedOperation.EngineRequestTimeout", llmplex.ServerError),
        ("FailedOperation.EngineServerError", llmplex.ServerError),
        ("FailedOperation", llmplex.ServerError),
        ("InternalError", llmplex.ServerError),
        ("ServiceUnavailable", llmplex.ServerError),
        ("OperationDenied.TextIllegalDetected", llmplex.ContentFilterError),
        ("OperationDenied.ImageIllegalDetected", llmplex.ContentFilterError),
        ("FailedOperation.ServiceNotActivated", llmplex.PermissionDeniedError),
        ("FailedOperation.ResourcePackExhausted", llmplex.PermissionDeniedError),
        ("ResourceUnavailable.InArrears", llmplex.PermissionDeniedError),
        ("ResourceInsufficient.ChargeResourceExhaust", llmplex.PermissionDeniedError),
        ("InvalidParameter", llmplex.InvalidRequestError),
        ("InvalidParameter.ImageCountLimitExceededError", llmplex.InvalidRequestError),
        ("InvalidParameterValue.Model", llmplex.InvalidRequestError),
        ("MissingParameter", llmplex.InvalidRequestError),
        ("UnsupportedRegion", llmplex.InvalidRequestError),
        ("RequestSizeLimitExceeded", llmplex.InvalidRequestError),
    ],
)
def test_error_code_table(code: str, expected: type) -> None:
    assert error_class_for_code(code) is expected
    error = provider().map_error(reply({"Response": {"RequestId": "r-9", "Error": {"Code": code, "Message": "m"}}}), REQUEST)
    assert type(error) is expected and error.code == code and error.request_id == "r-9"


def test_retryability_follows_the_reference() -> None:
    # Quota and billing codes are PermissionDeniedError precisely because waiting cannot help.
    assert llmplex.RateLimitError.retryable and llmplex.ServerError.retryable
    assert not llmplex.PermissionDeniedError.retryable and not llmplex.ContentFilterError.retryable
    assert error_class_for_code("FailedOperation.EngineServerLimitExceeded") is llmplex.RateLimitError
    assert error_class_for_code("NotATencentCode") is None


def test_unknown_code_and_non_tencent_bodies_fall_back_on_the_status() -> None:
    p = provider()
    assert type(p.map_error(reply({"Response": {"Error": {"Code": "Novel", "Message": "m"}}}), REQUEST)) is llmplex.InvalidRequestError
    assert type(p.map_error(WireResponse(502, {}, b"<html>Bad Gateway</html>"), REQUEST)) is llmplex.ServerError
    assert type(p.map_error(WireResponse(429, {}, b""), REQUEST)) is llmplex.RateLimitError
    gateway = p.map_error(WireResponse(403, {"x-tc-requestid": "h-1"}, b"denied"), REQUEST)
    assert type(gateway) is llmplex.PermissionDeniedError and gateway.request_id == "h-1"


def test_context_length_wording_is_recognised() -> None:
    error = provider().map_error(reply({"Response": {"Error": {
        "Code": "InvalidParameter", "Message": "prompt is too long"}}}), REQUEST)
    assert isinstance(error, llmplex.ContextLengthError)


# --- streams --------------------------------------------------------------------------------


def test_stream_ends_at_the_event_with_a_finish_reason_not_at_done() -> None:
    parser, chunks = feed_all([delta_event({"Role": "assistant", "Content": "a"}),
                               delta_event({"Role": "assistant", "Content": ""}, "stop")])
    assert parser.done and parser.close() == []
    assert parser.feed(SSEEvent(data="[DONE]")) == []  # anything after the end is ignored
    assert [c.text for c in chunks] == ["a", ""]


def test_stream_without_its_final_event_is_interrupted() -> None:
    parser, _ = feed_all([delta_event({"Role": "assistant", "Content": "a"})])
    with pytest.raises(llmplex.StreamInterruptedError, match="FinishReason"):
        parser.close()


def test_sensitive_mid_stream_is_a_content_filter_finish() -> None:
    parser, chunks = feed_all([delta_event({"Role": "assistant", "Content": "一段"}),
                               delta_event({"Role": "assistant", "Content": ""}, "sensitive")])
    assert parser.done
    assert (chunks[-1].finish_reason, chunks[-1].finish_reason_raw) == ("content_filter", "sensitive")


def test_reasoning_deltas_and_tool_calls_without_id_use_index() -> None:
    _, chunks = feed_all([
        delta_event({"Role": "assistant", "ReasoningContent": "想", "Content": ""}),
        delta_event({"Role": "assistant", "Content": "", "ToolCalls": [
            {"Index": 0, "Type": "function", "Function": {"Name": "a", "Arguments": "{\"x\":"}},
            {"Index": 1, "Type": "function", "Function": {"Name": "b", "Arguments": "{}"}}]}),
        delta_event({"Role": "assistant", "Content": "", "ToolCalls": [
            {"Index": 0, "Type": "function", "Function": {"Name": "", "Arguments": "1}"}}]}, "tool_calls"),
    ])
    accumulator = StreamAccumulator(provider="hunyuan", model="m")
    for chunk in chunks:
        accumulator.add(chunk)
    response = accumulator.response()
    assert response.message.reasoning_content == "想"
    assert [(c.name, c.arguments) for c in response.tool_calls] == [("a", {"x": 1}), ("b", {})]


def test_two_tool_calls_interleaved_by_id() -> None:
    def call(call_id: str, name: str, args: str) -> Dict[str, Any]:
        return {"Id": call_id, "Type": "function", "Function": {"Name": name, "Arguments": args}}

    _, chunks = feed_all([
        delta_event({"Content": "", "ToolCalls": [call("c1", "f", "")]}),
        delta_event({"Content": "", "ToolCalls": [call("c2", "g", "{\"b\":")]}),
        delta_event({"Content": "", "ToolCalls": [call("c1", "", "{\"a\":1}")]}),
        delta_event({"Content": "", "ToolCalls": [call("c2", "", "2}")]}, "tool_calls"),
    ])
    accumulator = StreamAccumulator(provider="hunyuan", model="m")
    for chunk in chunks:
        accumulator.add(chunk)
    assert [(c.id, c.name, c.arguments) for c in accumulator.response().tool_calls] == [
        ("c1", "f", {"a": 1}), ("c2", "g", {"b": 2})]


@pytest.mark.parametrize(
    "event, expected, code",
    [
        ({"Id": "i", "ErrorMsg": {"Msg": "服务内部异常。", "Code": 4000}}, llmplex.ServerError, 4000),
        ({"Response": {"RequestId": "r", "Error": {"Code": "LimitExceeded", "Message": "m"}}}, llmplex.RateLimitError, "LimitExceeded"),
        ({"Error": {"Code": "OperationDenied.TextIllegalDetected", "Message": "m"}}, llmplex.ContentFilterError, "OperationDenied.TextIllegalDetected"),
    ],
)
def test_errors_inside_a_stream(event: Dict[str, Any], expected: "type[LLMError]", code: Any) -> None:
    with pytest.raises(expected) as info:
        feed_all([delta_event({"Content": "a"}), event])
    assert info.value.code == code


def test_null_error_msg_is_not_an_error() -> None:
    parser, chunks = feed_all([{**delta_event({"Content": "a"}, "stop"), "ErrorMsg": None}])
    assert parser.done and chunks[0].text == "a"


@pytest.mark.parametrize("data", ["not json", "[1]", "null"])
def test_malformed_stream_events_are_protocol_errors(data: str) -> None:
    with pytest.raises(llmplex.ProtocolError):
        provider().stream_parser(STREAM_REQUEST).feed(SSEEvent(data=data))


# --- fuzzing --------------------------------------------------------------------------------

KEYS = st.sampled_from([
    "Response", "Choices", "Message", "Delta", "Role", "Content", "ReasoningContent", "ToolCalls", "Id", "Index",
    "Type", "Function", "Name", "Arguments", "FinishReason", "Usage", "PromptTokens", "CompletionTokens",
    "TotalTokens", "PromptTokensDetails", "CachedTokens", "Error", "Code", "RequestId", "ErrorMsg", "Msg", "Note",
]) | st.text(max_size=6)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12) | st.sampled_from(
    ["stop", "tool_calls", "sensitive", "", "{}", "{\"a\":1}", "[1]", "function", "8"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=25)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(payload=JSON, status=st.sampled_from([200, 400, 401, 429, 500, 503]))
def test_parse_response_and_map_error_raise_only_llm_errors(payload: Any, status: int) -> None:
    p = provider()
    body = json.dumps(payload).encode()
    try:
        p.parse_response(WireResponse(200, {}, body), REQUEST)
    except LLMError:
        pass
    assert isinstance(p.map_error(WireResponse(status, {}, body), REQUEST), LLMError)


@FUZZ
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_llm_errors(body: bytes) -> None:
    p = provider()
    try:
        p.parse_response(WireResponse(200, {}, body), REQUEST)
    except LLMError:
        pass
    assert isinstance(p.map_error(WireResponse(500, {}, body), REQUEST), LLMError)
    decoder, parser = SSEDecoder(), p.stream_parser(STREAM_REQUEST)
    try:
        for event in decoder.feed(body) + decoder.close():
            parser.feed(event)
        parser.close()
    except LLMError:
        pass


@FUZZ
@given(events=st.lists(JSON, max_size=6))
def test_stream_parser_raises_only_llm_errors(events: List[Any]) -> None:
    parser = provider().stream_parser(STREAM_REQUEST)
    accumulator = StreamAccumulator(provider="hunyuan", model="m")
    try:
        for event in events:
            for chunk in parser.feed(SSEEvent(data=json.dumps(event))):
                accumulator.add(chunk)
        parser.close()
        accumulator.response()
    except LLMError:
        pass
