"""Zhipu GLM v4: golden wire requests, the same request as the official ``zhipuai`` SDK sends
(captured on a loopback server), raw-key and JWT auth, and cassette-driven replies, streams and
errors through the real Client (each cassette's metadata.source names its origin)."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, List, Optional, Tuple
from unittest import mock

import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy
from llmplex.providers.zhipu import error_class_for_code, zhipu_jwt
from llmplex.testing.replay import Interaction, ReplayServer

CASSETTE_DIR = "zhipu"
KEY = "0123456789abcdef0123456789abcdef.EXAMPLEsecretPart"
NOW = 1700000000.123
HELLO = [{"role": "user", "content": "你好"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询城市天气",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PNG = b"\x89PNG\r\n\x1a\n-EXAMPLE-"


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(clock: Optional[FixedClock] = None, **table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"zhipu": {"api_key": KEY, **table}}}, clock=clock or FixedClock(NOW),
                          retry=RetryPolicy(max_retries=0))


# --- golden requests -------------------------------------------------------------------------

def golden_messages() -> List[Any]:
    return [
        {"role": "system", "content": "你是天气助手。"},
        Message.user([
            llmplex.TextPart(text="图里是哪座城市？天气如何？"),
            llmplex.ImagePart(url="https://example.com/city.jpg"),
            llmplex.ImagePart(data=PNG, media_type="image/png"),
        ]),
    ]


GOLDEN_BODY = {
    "model": "glm-4v-plus",
    "messages": [
        {"role": "system", "content": "你是天气助手。"},
        {"role": "user", "content": [
            {"type": "text", "text": "图里是哪座城市？天气如何？"},
            {"type": "image_url", "image_url": {"url": "https://example.com/city.jpg"}},
            # The SDK strips "data:image/png;base64," (drop_prefix_image_data): bare base64.
            {"type": "image_url", "image_url": {"url": base64.b64encode(PNG).decode()}},
        ]},
    ],
    "tools": [WEATHER],
    "tool_choice": "auto",
    # temperature 0 is greedy decoding: do_sample=false with the SDK's stand-in 0.01; top_p 1 -> 0.99.
    "temperature": 0.01,
    "do_sample": False,
    "top_p": 0.99,
    "max_tokens": 512,
    "stop": ["\n\n"],
    "seed": 7,
    "user_id": "user-123456",
}


def golden_wire(client: Optional[llmplex.Client] = None) -> llmplex.WireRequest:
    return (client or make_client()).prepare(
        "zhipu/glm-4v-plus", golden_messages(), tools=[WEATHER], tool_choice="auto", temperature=0, top_p=1,
        max_tokens=512, stop=["\n\n"], seed=7, user="user-123456",
    )


def test_golden_request_with_the_raw_key() -> None:
    wire = golden_wire()
    assert (wire.method, wire.url, wire.framing) == ("POST", "https://open.bigmodel.cn/api/paas/v4/chat/completions", "json")
    assert wire.json == GOLDEN_BODY
    assert dict(wire.headers) == {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}


def test_jwt_auth_mints_the_sdks_token_per_request() -> None:
    wire = golden_wire(make_client(auth="jwt"))
    assert wire.headers["Authorization"] == f"Bearer {zhipu_jwt(KEY, now=NOW)}"
    header, payload, _ = wire.headers["Authorization"][len("Bearer "):].split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": "HS256", "sign_type": "SIGN", "typ": "JWT"}
    assert json.loads(base64.urlsafe_b64decode(payload + "==")) == {
        "api_key": KEY.split(".")[0], "exp": 1700000210123, "timestamp": 1700000000123,
    }
    later = golden_wire(make_client(FixedClock(NOW + 1), auth="jwt", jwt_ttl=60))
    assert later.headers["Authorization"] != wire.headers["Authorization"]
    assert json.loads(base64.urlsafe_b64decode(later.headers["Authorization"].split(".")[1] + "=="))["exp"] == 1700000061123


@pytest.mark.parametrize("table, field", [
    ({"auth": "oauth"}, "providers.zhipu.auth"),
    ({"jwt_ttl": 0}, "providers.zhipu.jwt_ttl"),
])
def test_bad_auth_options_name_the_field(table: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        make_client(**table).provider("zhipu")
    assert info.value.field == field


def test_a_key_without_id_and_secret_cannot_mint_a_jwt() -> None:
    with pytest.raises(llmplex.ConfigError, match="id.secret") as info:
        llmplex.Client({"providers": {"zhipu": {"api_key": "EXAMPLE-no-dot", "auth": "jwt"}}}).prepare("zhipu/glm-4", HELLO)
    assert "EXAMPLE-no-dot" not in str(info.value)


def test_key_comes_from_zhipuai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
    assert llmplex.Client().prepare("zhipu/glm-4", HELLO).headers["Authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("params, field", [
    ({"tool_choice": "required", "tools": [WEATHER]}, "tool_choice"),
    ({"n": 2}, "n"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}, "response_format"),
])
def test_what_zhipu_documents_no_field_for_is_refused(params: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        make_client().prepare("zhipu/glm-4-plus", HELLO, **params)
    assert info.value.field == field


def test_parallel_tool_calls_is_dropped_and_reported() -> None:
    client = make_client()
    wire = client.prepare("zhipu/glm-4-plus", HELLO, tools=[WEATHER], parallel_tool_calls=False, temperature=0.5, top_p=0.5)
    assert "parallel_tool_calls" not in wire.json
    assert (wire.json["temperature"], wire.json["top_p"]) == (0.5, 0.5)  # in range: unchanged, no do_sample
    assert "do_sample" not in wire.json
    request = llmplex.ChatRequest(model="glm-4-plus", messages=[Message.user("hi")], parallel_tool_calls=False)
    assert client.provider("zhipu").dropped(request) == ["parallel_tool_calls was not sent: Zhipu's v4 API has no parallel_tool_calls field"]


# --- the official SDK on a loopback capture server -----------------------------------------------

def capture_server(reply: bytes) -> ReplayServer:
    """Answers the one request with a canned reply and keeps what it received."""
    return ReplayServer([Interaction("POST", "/", "", 200, {"Content-Type": "application/json"}, reply)], any_path=True)


REPLY = json.dumps({"id": "1", "created": 1, "model": "glm-4v-plus", "choices": [
    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]}).encode()


def sdk_request(**client_options: Any) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """What zhipuai sends for the golden request (its own spelling of the same call)."""
    zhipuai = pytest.importorskip("zhipuai")
    with capture_server(REPLY) as capture:
        sdk = zhipuai.ZhipuAI(api_key=KEY, base_url=capture.url + "/api/paas/v4", max_retries=0, **client_options)
        sdk.chat.completions.create(
            model="glm-4v-plus",
            messages=[
                {"role": "system", "content": "你是天气助手。"},
                {"role": "user", "content": [
                    {"type": "text", "text": "图里是哪座城市？天气如何？"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/city.jpg"}},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()}},
                ]},
            ],
            tools=[WEATHER], tool_choice="auto", temperature=0, top_p=1, max_tokens=512, stop=["\n\n"], seed=7,
            user_id="user-123456",
        )
    (sent,) = capture.received
    assert sent["path"] == "/api/paas/v4/chat/completions"
    return json.loads(sent["body"]), sent["headers"]


def test_golden_body_equals_what_the_sdk_sends() -> None:
    body, headers = sdk_request()
    # The SDK serialises two unset optionals as explicit nulls; the API treats them as absent.
    assert body.pop("response_format") is None and body.pop("thinking") is None
    assert body == GOLDEN_BODY
    assert headers["Authorization"] == f"Bearer {KEY}"  # raw key: the SDK's default


def test_jwt_header_equals_the_sdks_with_a_frozen_clock() -> None:
    jwt_module = pytest.importorskip("zhipuai.core._jwt_token")
    jwt_module.generate_token.cache_clear()
    with mock.patch.object(jwt_module.time, "time", return_value=NOW):
        _, headers = sdk_request(disable_token_cache=False)
    jwt_module.generate_token.cache_clear()
    assert golden_wire(make_client(auth="jwt")).headers["Authorization"] == headers["Authorization"]


# --- cassettes: replies -----------------------------------------------------------------------------

def _stream(client: llmplex.Client, *args: Any, **kwargs: Any) -> Tuple[List[llmplex.ChatChunk], llmplex.ChatResponse]:
    stream = client.stream(*args, **kwargs)
    chunks = list(stream)
    assert stream.response is not None
    return chunks, stream.response


@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("zhipu/glm-4-plus", HELLO)
    assert reply.text == "你好👋！我是人工智能助手智谱清言，可以叫我小智🤖，很高兴见到你，欢迎问我任何问题。"
    assert reply.id == "20240807162013d9e5e1b6eb3a4b52"
    assert reply.finish_reason == "stop"
    assert reply.usage == llmplex.Usage(prompt_tokens=6, completion_tokens=32, total_tokens=38)


@pytest.mark.vcr("streamed_reply.json")
def test_streamed_reply() -> None:
    chunks, response = _stream(make_client(), "zhipu/glm-4", [{"role": "user", "content": "数到2"}])
    assert [c.text for c in chunks] == ["1", "2", ""]
    assert response.text == "12"
    assert response.id == "8635243129834723621"
    assert response.finish_reason == "stop"
    assert response.usage == llmplex.Usage(prompt_tokens=8, completion_tokens=2, total_tokens=10)


ASK = [{"role": "user", "content": "北京今天天气怎么样？"}]


@pytest.mark.vcr("tool_call.json")
def test_tool_call_round_trip() -> None:
    client = make_client()
    first = client.chat("zhipu/glm-4-plus", ASK, tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_8934567890123456789", "get_weather", {"city": "北京"})
    history = ASK + [first.message, Message.tool(call.id, '{"weather": "晴", "temperature": "25°C"}')]
    wire = client.prepare("zhipu/glm-4-plus", history, tools=[WEATHER]).json
    assert wire["messages"][1] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_8934567890123456789", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]}
    assert wire["messages"][2] == {"role": "tool", "tool_call_id": "call_8934567890123456789",
                                   "content": '{"weather": "晴", "temperature": "25°C"}'}
    second = client.chat("zhipu/glm-4-plus", history, tools=[WEATHER])  # the cassette matches this body
    assert second.text == "北京今天天气晴，气温25°C。"


@pytest.mark.vcr("tool_stream.json")
def test_tool_stream_fragments_assemble() -> None:
    chunks, response = _stream(make_client(), "zhipu/glm-4.6", ASK, tools=[WEATHER], extra={"tool_stream": True})
    assert sum(len(c.tool_calls) for c in chunks) == 3
    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_-8123456789012345678", "get_weather", {"city": "北京"})
    assert response.finish_reason == "tool_calls"


@pytest.mark.vcr("image_input.json")
def test_image_input_is_sent_as_bare_base64() -> None:
    messages = [Message.user([llmplex.TextPart(text="图里有什么？"), llmplex.ImagePart(data=PNG, media_type="image/png")])]
    reply = make_client().chat("zhipu/glm-4v-plus", messages)
    assert reply.text == "图中是一张测试用的PNG图片。"


@pytest.mark.vcr("stream_sensitive.json")
def test_a_stream_stopped_by_moderation_finishes_as_content_filter() -> None:
    chunks, response = _stream(make_client(), "zhipu/glm-4-0520", HELLO)
    assert response.finish_reason == "content_filter" and response.finish_reason_raw == "sensitive"
    assert response.text == "你好"


# --- cassettes: errors ---------------------------------------------------------------------------------

def _case(cassette: str, cls: "type[llmplex.LLMError]", code: str, status: int) -> Any:
    return pytest.param(cls, code, status, marks=pytest.mark.vcr(cassette), id=code)


@pytest.mark.parametrize("cls, code, status", [
    _case("error_1301_sensitive.json", llmplex.ContentFilterError, "1301", 400),
    _case("error_1302_rate_limit.json", llmplex.RateLimitError, "1302", 429),
    _case("error_1002_auth.json", llmplex.AuthenticationError, "1002", 401),
    _case("error_1261_too_long.json", llmplex.ContextLengthError, "1261", 400),
    _case("error_1113_arrears.json", llmplex.PermissionDeniedError, "1113", 429),
])
def test_http_errors_map_by_business_code(cls: "type[llmplex.LLMError]", code: str, status: int) -> None:
    with pytest.raises(llmplex.LLMError) as info:
        make_client().chat("zhipu/glm-4-plus", HELLO)
    assert type(info.value) is cls
    assert (info.value.code, info.value.status) == (code, status)
    assert KEY not in str(info.value)


@pytest.mark.vcr("stream_error_midway.json")
def test_an_error_frame_mid_stream_keeps_the_partial_text() -> None:
    seen: List[str] = []
    with pytest.raises(llmplex.ContentFilterError) as info:
        for chunk in make_client().stream("zhipu/glm-4-plus", HELLO):
            seen.append(chunk.text)
    assert seen == ["你好", "，"]
    assert info.value.code == "1301"
    assert info.value.partial is not None and info.value.partial.text == "你好，"


@pytest.mark.parametrize("code, cls", [
    ("1000", llmplex.AuthenticationError), ("1003", llmplex.AuthenticationError), ("1211", llmplex.NotFoundError),
    ("1214", llmplex.InvalidRequestError), ("1303", llmplex.RateLimitError), ("1305", llmplex.RateLimitError),
    ("1304", llmplex.PermissionDeniedError), ("1308", llmplex.PermissionDeniedError), ("1312", llmplex.ServerError),
    ("500", llmplex.ServerError), ("9999", None), ("abc", None),
])
def test_code_table(code: str, cls: Optional["type[llmplex.LLMError]"]) -> None:
    assert error_class_for_code(code) is cls


def test_a_rate_limit_inside_a_200_body_is_retryable() -> None:
    body = json.dumps({"error": {"code": "1305", "message": "该模型当前访问量过大，请您稍后再试"}}).encode()
    provider = make_client().provider("zhipu")
    request = llmplex.ChatRequest(model="glm-4-plus", messages=[Message.user("hi")])
    with pytest.raises(llmplex.RateLimitError) as info:
        provider.parse_response(llmplex.WireResponse(200, {}, body), request)
    assert info.value.retryable and info.value.code == "1305"
