"""Alibaba DashScope native API (``dashscope``): exact wire requests (text and multimodal, streams
with X-DashScope-SSE and incremental_output), cassette replies (plain, streamed, tools, images,
errors, event:error mid-stream) and the official SDK's request on a loopback server."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy
from llmplex.testing.replay import ResponderServer

CASSETTE_DIR = "dashscope"
API_KEY = "sk-EXAMPLEdashscope00000000000000"
NOW = 1700000000
WHO = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "你是谁？"}]
HELLO = [{"role": "user", "content": "你好"}]
TEXT_URL = "https://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation"
MULTI_URL = "https://dashscope.aliyuncs.com/api/v1/services/aigc/multimodal-generation/generation"
WEATHER = {"type": "function", "function": {"name": "get_current_weather", "description": "当你想查询指定城市的天气时非常有用。",
           "parameters": {"type": "object", "properties": {"location": {"type": "string", "description": "城市或县区，比如北京市、杭州市、余杭区等。"}},
                          "required": ["location"]}}}


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(**table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"dashscope": {"api_key": API_KEY, **table}}}, clock=FixedClock(NOW),
                          retry=RetryPolicy(max_retries=0, rng=lambda: 0.0))


# --- requests ---------------------------------------------------------------------------------

def test_plain_request_is_input_messages_with_result_format_message() -> None:
    wire = make_client().prepare("dashscope/qwen-plus", WHO, temperature=0.5, top_p=0.8, max_tokens=100, seed=7, stop="。")
    assert (wire.method, wire.url, wire.framing) == ("POST", TEXT_URL, "json")
    assert dict(wire.headers) == {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {API_KEY}",
                                  "Accept": "application/json; charset=utf-8"}
    assert wire.json == {"model": "qwen-plus", "input": {"messages": WHO}, "parameters": {
        "result_format": "message", "temperature": 0.5, "top_p": 0.8, "max_tokens": 100, "seed": 7, "stop": ["。"]}}


def test_stream_request_enables_sse_and_incremental_output() -> None:
    wire = make_client(workspace="ws-EXAMPLE").prepare("dashscope/qwen-plus", HELLO, stream=True)
    assert wire.framing == "sse"
    assert dict(wire.headers) == {"Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {API_KEY}",
                                  "Accept": "text/event-stream", "X-Accel-Buffering": "no", "X-DashScope-SSE": "enable",
                                  "X-DashScope-WorkSpace": "ws-EXAMPLE"}
    assert wire.json["parameters"] == {"result_format": "message", "incremental_output": True}


def test_tools_tool_choice_and_tool_turns_go_in_parameters_and_messages() -> None:
    call = llmplex.ToolCall(id="call_1", name="get_current_weather", arguments={"location": "杭州"})
    messages = [Message.user("杭州天气怎么样"), Message(role="assistant", content=None, tool_calls=[call]),
                Message(role="tool", content="晴，25度", tool_call_id="call_1", name="get_current_weather")]
    wire = make_client().prepare("dashscope/qwen-plus", messages, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_current_weather"}},
                                 extra={"enable_search": True})
    assert wire.json["parameters"] == {
        "result_format": "message", "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "get_current_weather"}}, "enable_search": True}
    assert wire.json["input"]["messages"] == [
        {"role": "user", "content": "杭州天气怎么样"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_current_weather", "arguments": '{"location": "杭州"}'}}]},
        {"role": "tool", "content": "晴，25度", "name": "get_current_weather", "tool_call_id": "call_1"},
    ]


def test_images_use_the_multimodal_endpoint_with_content_items() -> None:
    messages = [Message.system("简洁回答"), Message.user([llmplex.ImagePart(url="https://example.com/dog.jpeg"),
                                                         llmplex.TextPart(text="图里是什么？")])]
    wire = make_client().prepare("dashscope/qwen-vl-max", messages)
    assert wire.url == MULTI_URL
    assert wire.json["input"]["messages"] == [
        {"role": "system", "content": [{"text": "简洁回答"}]},
        {"role": "user", "content": [{"image": "https://example.com/dog.jpeg"}, {"text": "图里是什么？"}]},
    ]
    inline = make_client().prepare("dashscope/qwen-plus", [Message.user([llmplex.ImagePart(data=b"\x89PNG", media_type="image/png")])])
    assert inline.url == MULTI_URL
    assert inline.json["input"]["messages"][0]["content"] == [{"image": "data:image/png;base64,iVBORw=="}]
    # A vision model goes to the multimodal endpoint even for a text-only turn.
    assert make_client().prepare("dashscope/qwen-vl-plus", HELLO).url == MULTI_URL


@pytest.mark.parametrize("kwargs, field", [
    ({"tool_choice": "required", "tools": [WEATHER]}, "tool_choice"),
    ({"n": 2}, "n"),
    ({"temperature": 2.0}, "temperature"),
])
def test_undeclared_features_are_refused(kwargs: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        make_client().prepare("dashscope/qwen-plus", HELLO, **kwargs)
    assert info.value.field == field


def test_missing_key_names_the_field() -> None:
    with pytest.raises(llmplex.LLMError) as info:
        llmplex.Client().prepare("dashscope/qwen-plus", HELLO)
    assert "api_key" in (info.value.field or "") and "DASHSCOPE_API_KEY" in str(info.value)


# --- cassettes ----------------------------------------------------------------------------------

@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("dashscope/qwen-plus", WHO)
    assert reply.text == "我是阿里云开发的一款超大规模语言模型，我叫通义千问。"
    assert (reply.finish_reason, reply.id) == ("stop", "09dceb20-ae2e-999b-85f9-c5ab266198c0")
    assert reply.usage == llmplex.Usage(prompt_tokens=22, completion_tokens=16, total_tokens=38)


@pytest.mark.vcr("streamed_reply.json")
def test_streamed_reply_null_finish_and_cumulative_usage() -> None:
    stream = make_client().stream("dashscope/qwen-plus", WHO)
    chunks = list(stream)
    assert [c.text for c in chunks] == ["我是", "阿里云开发的一款超大规模", "语言模型，我叫通义千问。"]
    assert [c.finish_reason for c in chunks] == [None, None, "stop"]  # the string "null" is not a finish
    assert stream.response is not None
    assert stream.response.text == "我是阿里云开发的一款超大规模语言模型，我叫通义千问。"
    # usage is the running total in every frame: the last one counts, nothing is summed.
    assert stream.response.usage == llmplex.Usage(prompt_tokens=22, completion_tokens=16, total_tokens=38)


@pytest.mark.vcr("tool_call.json")
def test_tool_call() -> None:
    reply = make_client().chat("dashscope/qwen-plus", [{"role": "user", "content": "杭州天气怎么样"}], tools=[WEATHER])
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_240d6341de4c484384849d", "get_current_weather", {"location": "杭州市"})
    assert reply.finish_reason == "tool_calls" and reply.text == ""


@pytest.mark.vcr("stream_tool_call.json")
def test_streamed_tool_call_fragments_are_joined() -> None:
    stream = make_client().stream("dashscope/qwen-plus", [{"role": "user", "content": "杭州天气怎么样"}], tools=[WEATHER])
    list(stream)
    assert stream.response is not None
    (call,) = stream.response.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_8f08d2b0fc0c4d8fab7123", "get_current_weather", {"location": "杭州市"})
    assert stream.response.finish_reason == "tool_calls"
    assert stream.response.usage == llmplex.Usage(prompt_tokens=217, completion_tokens=18, total_tokens=235)


@pytest.mark.vcr("image_input.json")
def test_image_input() -> None:
    messages = [Message.user([llmplex.ImagePart(url="https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg"),
                              llmplex.TextPart(text="图中描绘的是什么景象?")])]
    reply = make_client().chat("dashscope/qwen-vl-max", messages)
    assert reply.text == "这张图片显示了一位女士和一只狗在海滩上。"
    assert reply.usage == llmplex.Usage(prompt_tokens=1271, completion_tokens=20, total_tokens=1291)


def _case(cassette: str, cls: "type[llmplex.LLMError]", code: str, status: int) -> Any:
    return pytest.param(cls, code, status, marks=pytest.mark.vcr(cassette), id=code)


@pytest.mark.parametrize("cls, code, status", [
    _case("error_invalid_api_key.json", llmplex.AuthenticationError, "InvalidApiKey", 401),
    _case("error_throttling.json", llmplex.RateLimitError, "Throttling.RateQuota", 429),
    _case("error_data_inspection.json", llmplex.ContentFilterError, "DataInspectionFailed", 400),
    _case("error_input_length.json", llmplex.ContextLengthError, "InvalidParameter", 400),
    _case("error_arrearage.json", llmplex.PermissionDeniedError, "Arrearage", 400),
    _case("error_model_not_exist.json", llmplex.NotFoundError, "Model.NotExist", 400),
    _case("error_internal.json", llmplex.ServerError, "InternalError", 500),
])
def test_errors_map_to_their_class(cls: "type[llmplex.LLMError]", code: str, status: int) -> None:
    with pytest.raises(llmplex.LLMError) as info:
        make_client().chat("dashscope/qwen-plus", HELLO)
    assert type(info.value) is cls
    assert (info.value.code, info.value.status) == (code, status)
    assert info.value.request_id and info.value.request_id.startswith("b5e4b8a7")
    assert API_KEY not in str(info.value)


def test_arrearage_is_not_retried() -> None:
    provider = make_client().provider("dashscope")
    body = json.dumps({"code": "Arrearage", "message": "Access denied", "request_id": "r"}).encode()
    error = provider.map_error(llmplex.WireResponse(400, {}, body), llmplex.ChatRequest(model="m", messages=[Message.user("x")]))
    assert isinstance(error, llmplex.PermissionDeniedError) and not error.should_retry


@pytest.mark.vcr("stream_error_midway.json")
def test_event_error_mid_stream_keeps_what_was_streamed() -> None:
    stream = make_client().stream("dashscope/qwen-plus", HELLO)
    seen: List[str] = []
    with pytest.raises(llmplex.ContentFilterError) as info:
        for chunk in stream:
            seen.append(chunk.text)
    assert seen == ["我是"]
    assert info.value.code == "DataInspectionFailed" and info.value.request_id == "5bef2386-ce6b-9a0d-8ca1-25bd9e7c1e2b"
    assert info.value.partial is not None and info.value.partial.text == "我是"


def test_an_error_in_a_200_body_is_raised() -> None:
    provider = make_client().provider("dashscope")
    body = json.dumps({"code": "Throttling", "message": "Requests throttling triggered.", "request_id": "r1"}).encode()
    with pytest.raises(llmplex.RateLimitError) as info:
        provider.parse_response(llmplex.WireResponse(200, {}, body), llmplex.ChatRequest(model="m", messages=[Message.user("x")]))
    assert info.value.status == 429 and info.value.code == "Throttling"


def test_a_stream_without_a_final_frame_is_interrupted() -> None:
    provider = make_client().provider("dashscope")
    request = llmplex.ChatRequest(model="m", messages=[Message.user("x")], stream=True)
    parser = provider.stream_parser(request)
    from llmplex.transport.sse import SSEEvent

    frame = {"output": {"choices": [{"message": {"content": "半", "role": "assistant"}, "finish_reason": "null"}]}}
    assert [c.text for c in parser.feed(SSEEvent(data=json.dumps(frame), event="result"))] == ["半"]
    with pytest.raises(llmplex.StreamInterruptedError):
        parser.close()
    with pytest.raises(llmplex.ProtocolError) as info:
        provider.stream_parser(request).feed(SSEEvent(data="{oops", event="result"))
    assert info.value.raw == "{oops"
    with pytest.raises(llmplex.ProtocolError, match="stream event is not an object") as info:
        provider.stream_parser(request).feed(SSEEvent(data='["an", "array"]', event="result"))
    assert info.value.raw == '["an", "array"]'


# --- the official SDK on a loopback server --------------------------------------------------------

def Capture(reply: bytes, content_type: str = "application/json") -> ResponderServer:
    """Answers every call with ``reply`` under ``/api/v1``; keeps what arrived."""
    return ResponderServer(lambda request: (200, reply, {"Content-Type": content_type}), path="/api/v1")


REPLY = json.dumps({"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]},
                    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}, "request_id": "r"}).encode()


def _sdk_body(sent: Dict[str, Any]) -> Dict[str, Any]:
    body: Dict[str, Any] = json.loads(sent["body"])
    # The SDK's own bookkeeping, not part of the logical request.
    body["parameters"].pop("user_agent", None)
    return body


def test_text_request_equals_what_the_sdk_sends() -> None:
    dashscope = pytest.importorskip("dashscope")
    with Capture(REPLY) as server:
        dashscope.Generation.call(model="qwen-plus", messages=WHO, api_key=API_KEY, base_address=server.url,
                                  result_format="message", temperature=0.5, top_p=0.8, max_tokens=100, seed=7,
                                  tools=[WEATHER], tool_choice="auto")
        make_client(base_url=server.url).chat("dashscope/qwen-plus", WHO, temperature=0.5, top_p=0.8, max_tokens=100,
                                             seed=7, tools=[WEATHER], tool_choice="auto")
    sdk, ours = server.received
    assert ours["path"] == sdk["path"] == "/api/v1/services/aigc/text-generation/generation"
    assert json.loads(ours["body"]) == _sdk_body(sdk)
    assert ours["headers"]["Authorization"] == sdk["headers"]["Authorization"] == f"Bearer {API_KEY}"


def test_stream_request_equals_what_the_sdk_sends() -> None:
    dashscope = pytest.importorskip("dashscope")
    frame = b'id:1\nevent:result\n:HTTP_STATUS/200\ndata:{"output":{"choices":[{"message":{"content":"ok","role":"assistant"},"finish_reason":"stop"}]},"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2},"request_id":"r"}\n\n'
    with Capture(frame, "text/event-stream;charset=UTF-8") as server:
        list(dashscope.Generation.call(model="qwen-plus", messages=HELLO, api_key=API_KEY, base_address=server.url,
                                       result_format="message", stream=True, incremental_output=True))
        assert [c.text for c in make_client(base_url=server.url).stream("dashscope/qwen-plus", HELLO)] == ["ok"]
    sdk, ours = server.received
    for name in ("X-DashScope-SSE", "Accept", "X-Accel-Buffering"):
        assert ours["headers"][name] == sdk["headers"][name], name
    sdk_body = _sdk_body(sdk)
    # The SDK repeats stream=true inside parameters; the header already says so (one-api omits it too).
    assert sdk_body["parameters"].pop("stream", True) is True
    assert json.loads(ours["body"]) == sdk_body


def test_multimodal_request_equals_what_the_sdk_sends() -> None:
    dashscope = pytest.importorskip("dashscope")
    url = "https://dashscope.oss-cn-beijing.aliyuncs.com/images/dog_and_girl.jpeg"
    sdk_messages = [{"role": "user", "content": [{"image": url}, {"text": "图中描绘的是什么景象?"}]}]
    ours_messages = [Message.user([llmplex.ImagePart(url=url), llmplex.TextPart(text="图中描绘的是什么景象?")])]
    with Capture(REPLY) as server:
        dashscope.MultiModalConversation.call(model="qwen-vl-max", messages=sdk_messages, api_key=API_KEY,
                                              base_address=server.url, result_format="message")
        make_client(base_url=server.url).chat("dashscope/qwen-vl-max", ours_messages)
    sdk, ours = server.received
    assert ours["path"] == sdk["path"] == "/api/v1/services/aigc/multimodal-generation/generation"
    assert json.loads(ours["body"]) == _sdk_body(sdk)


def test_thinking_frames_carry_reasoning_and_the_answer() -> None:
    from llmplex.transport.sse import SSEEvent

    provider = make_client().provider("dashscope")
    request = llmplex.ChatRequest(model="qwen-plus", messages=[Message.user("x")], stream=True)
    parser = provider.stream_parser(request)
    frames = [
        {"output": {"choices": [{"message": {"content": "", "reasoning_content": "想一想", "role": "assistant"}, "finish_reason": "null"}]},
         "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8, "output_tokens_details": {"reasoning_tokens": 3}}},
        {"output": {"choices": [{"message": {"content": "好", "reasoning_content": "", "role": "assistant"}, "finish_reason": "stop"}]},
         "usage": {"input_tokens": 5, "output_tokens": 4, "total_tokens": 9, "output_tokens_details": {"reasoning_tokens": 3}}},
    ]
    chunks = [c for f in frames for c in parser.feed(SSEEvent(data=json.dumps(f), event="result"))]
    assert [(c.reasoning, c.text, c.finish_reason) for c in chunks] == [("想一想", "", None), ("", "好", "stop")]
    assert chunks[-1].usage == llmplex.Usage(prompt_tokens=5, completion_tokens=4, total_tokens=9, reasoning_tokens=3)
    assert parser.done and parser.close() == []
