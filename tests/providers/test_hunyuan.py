"""Tencent Hunyuan: golden wire requests (cross-checked with Tencent's SDK signer) and
cassette-driven replies, streams and errors through the real Client.

Cassette replies are Tencent's published examples (each cassette's metadata.source says which).
Matching is on method, scheme, host, port, path, query and body (parsed as JSON); headers are
not matched, so the time-dependent ``X-TC-Timestamp`` and ``Authorization`` never affect replay.
"""

from __future__ import annotations

import contextlib
import json
import socket
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List, Optional
from unittest import mock

import pytest
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.credential import Credential as SDKCredential
from tencentcloud.common.http.request import ProxyConnection, RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

import llmplex
from llmplex import FixedClock, Message, RetryPolicy, WireRequest
from llmplex.signing.tc3 import sign_tc3

CASSETTE_DIR = "hunyuan"
SECRET_ID = "AKIDEXAMPLEHUNYUAN0000000000000000000"
SECRET_KEY = "EXAMPLEsecretKEY0123456789abcdefgh"
NOW = 1700000000
NOTE = "以上内容为AI生成，不代表开发者立场，请勿删除或修改本标记"
CALC = [{"role": "user", "content": "计算1+1"}]
HELLO = [{"role": "user", "content": "介绍下自己"}]
ASK = [{"role": "user", "content": "北京和深圳今天天气如何"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "获取当前地点的天气",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "城市名称"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
WEATHER_PARAMETERS = (
    '{"type":"object","properties":{"location":{"type":"string","description":"城市名称"},'
    '"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}'
)


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    # The body is part of the match; headers are not (vcrpy's default), which is exactly what
    # ignores the time-dependent X-TC-Timestamp and Authorization.
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(clock: Optional[FixedClock] = None, **table: Any) -> llmplex.Client:
    settings = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "region": "ap-guangzhou", **table}
    return llmplex.Client(
        {"providers": {"hunyuan": settings}}, clock=clock or FixedClock(NOW), retry=RetryPolicy(max_retries=0)
    )


# --- golden requests ------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n-EXAMPLE-"


def golden_wire() -> WireRequest:
    messages = [
        {"role": "system", "content": "你是天气助手。"},
        Message.user([
            llmplex.TextPart(text="这张图里是哪座城市？它今天天气如何？"),
            llmplex.ImagePart(url="https://example.com/city.jpg"),
            llmplex.ImagePart(data=PNG, media_type="image/png"),
        ]),
    ]
    return make_client().prepare(
        "hunyuan/hunyuan-turbo",
        messages,
        tools=[WEATHER],
        tool_choice={"name": "get_current_weather"},
        temperature=0.7,
        top_p=0.9,
        seed=42,
        stop=["\n\n"],
        extra={"StreamModeration": False, "EnableEnhancement": True, "SearchInfo": False},
    )


GOLDEN_TOOL = {"Type": "function", "Function": {"Name": "get_current_weather", "Parameters": WEATHER_PARAMETERS, "Description": "获取当前地点的天气"}}
GOLDEN_BODY = {
    "Model": "hunyuan-turbo",
    "Messages": [
        {"Role": "system", "Content": "你是天气助手。"},
        {
            "Role": "user",
            "Contents": [
                {"Type": "text", "Text": "这张图里是哪座城市？它今天天气如何？"},
                {"Type": "image_url", "ImageUrl": {"Url": "https://example.com/city.jpg"}},
                {"Type": "image_url", "ImageUrl": {"Url": "data:image/png;base64,iVBORw0KGgotRVhBTVBMRS0="}},
            ],
        },
    ],
    "Temperature": 0.7,
    "TopP": 0.9,
    "Seed": 42,
    "Stop": ["\n\n"],
    "Tools": [GOLDEN_TOOL],
    "ToolChoice": "custom",
    "CustomTool": GOLDEN_TOOL,
    "StreamModeration": False,
    "EnableEnhancement": True,
    "SearchInfo": False,
}


def test_golden_request_body_and_headers() -> None:
    wire = golden_wire()
    assert wire.method == "POST"
    assert wire.url == "https://hunyuan.tencentcloudapi.com/"
    assert wire.framing == "json"
    assert wire.json == GOLDEN_BODY
    # Compact, raw UTF-8: the bytes signed are these bytes, never a re-serialisation.
    assert wire.body == json.dumps(wire.json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert "这张图".encode("utf-8") in (wire.body or b"")
    assert set(wire.headers) == {
        "Content-Type", "Host", "X-TC-Action", "X-TC-Timestamp", "X-TC-Version", "X-TC-Region", "Authorization",
    }
    assert {k: v for k, v in wire.headers.items() if k != "Authorization"} == {
        "Content-Type": "application/json",
        "Host": "hunyuan.tencentcloudapi.com",
        "X-TC-Action": "ChatCompletions",
        "X-TC-Timestamp": "1700000000",
        "X-TC-Version": "2023-09-01",
        "X-TC-Region": "ap-guangzhou",
    }


def test_golden_authorization_equals_the_tc3_signer() -> None:
    wire = golden_wire()
    assert wire.body is not None
    expected = sign_tc3(
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        timestamp=NOW,
        payload=wire.body,
        content_type="application/json",
    )
    assert wire.headers["Authorization"] == expected.authorization
    assert expected.credential_scope == "2023-11-14/hunyuan/tc3_request"  # the UTC date of NOW



@contextlib.contextmanager
def _network_forbidden() -> Iterator[None]:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the SDK tried to open a network connection")

    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(
        socket, "create_connection", refuse
    ), mock.patch.object(ProxyConnection, "request", refuse):
        yield


def sdk_headers(body: bytes, *, region: Optional[str], token: Optional[str] = None, language: Optional[str] = None) -> Dict[str, str]:
    """The header set Tencent's official SDK builds for these exact body bytes at NOW."""
    profile = ClientProfile(httpProfile=HttpProfile(endpoint="hunyuan.tencentcloudapi.com"))
    profile.language = language  # the SDK omits X-TC-Language when it is falsy
    with _network_forbidden():
        client = AbstractClient(SDKCredential(SECRET_ID, SECRET_KEY, token), region, profile)
        client._service = "hunyuan"
        client._apiVersion = "2023-09-01"
        req = RequestInternal(client._get_endpoint(), "POST", "/", header={})
        frozen = SimpleNamespace(time=lambda: float(NOW))
        # Hand the SDK our bytes instead of its own json.dumps, so both sign the same payload.
        with mock.patch("tencentcloud.common.abstract_client.time", frozen), mock.patch(
            "tencentcloud.common.abstract_client.json", SimpleNamespace(dumps=lambda _p: body.decode("utf-8"))
        ):
            client._build_req_with_tc3_signature("ChatCompletions", {}, req)
    assert req.data == body.decode("utf-8")
    headers = dict(req.header)
    headers.pop("X-TC-RequestClient")  # the SDK's own identification, unsigned
    return headers


def test_golden_headers_equal_the_official_sdk() -> None:
    wire = golden_wire()
    assert wire.body is not None
    assert dict(wire.headers) == sdk_headers(wire.body, region="ap-guangzhou")


def test_token_and_language_headers_match_the_sdk_and_region_is_optional() -> None:
    client = make_client(token="EXAMPLE-session-token", language="en-US", region=None)
    wire = client.prepare("hunyuan/hunyuan-lite", [{"role": "user", "content": "你好"}], stream=True)
    assert wire.body is not None
    assert wire.framing == "sse"
    assert wire.json == {"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "你好"}], "Stream": True}
    assert "X-TC-Region" not in wire.headers
    assert wire.headers["X-TC-Token"] == "EXAMPLE-session-token"
    assert dict(wire.headers) == sdk_headers(wire.body, region=None, token="EXAMPLE-session-token", language="en-US")


def test_prepare_is_reproducible_byte_for_byte() -> None:
    first, second = golden_wire(), golden_wire()
    assert first == second
    client = make_client()
    assert client.prepare("hunyuan/hunyuan-turbo", CALC) == client.prepare("hunyuan/hunyuan-turbo", CALC)
    later = make_client(FixedClock(NOW + 1)).prepare("hunyuan/hunyuan-turbo", CALC)
    assert later.headers["Authorization"] != client.prepare("hunyuan/hunyuan-turbo", CALC).headers["Authorization"]


def test_scope_date_is_the_utc_date() -> None:
    # 2019-02-25 16:44:25 UTC is already 2019-02-26 in Beijing.
    wire = make_client(FixedClock(1551113065.9)).prepare("hunyuan/hunyuan-lite", CALC)
    assert wire.headers["X-TC-Timestamp"] == "1551113065"
    assert "/2019-02-25/hunyuan/tc3_request," in wire.headers["Authorization"]


def test_credentials_and_region_come_from_tencent_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_REGION", "ap-beijing")
    wire = llmplex.Client(clock=FixedClock(NOW)).prepare("hunyuan/hunyuan-lite", CALC)
    assert wire.headers["X-TC-Region"] == "ap-beijing"
    assert wire.headers["Authorization"].startswith(f"TC3-HMAC-SHA256 Credential={SECRET_ID}/")


def test_missing_secret_key_names_config_key_and_variable() -> None:
    client = llmplex.Client({"providers": {"hunyuan": {"secret_id": SECRET_ID}}})
    with pytest.raises(llmplex.ConfigError, match="TENCENTCLOUD_SECRET_KEY") as info:
        client.prepare("hunyuan/hunyuan-lite", CALC)
    assert info.value.field == "providers.hunyuan.secret_key"


def test_secrets_are_masked_but_region_is_not() -> None:
    client = make_client(token="EXAMPLE-session-token")
    provider = client.provider("hunyuan")
    assert sorted(provider.secrets()) == sorted([SECRET_ID, SECRET_KEY, "EXAMPLE-session-token"])
    assert SECRET_KEY not in repr(provider.settings)
    shown = client.redacted(client.prepare("hunyuan/hunyuan-lite", CALC))
    assert SECRET_ID not in shown.headers["Authorization"]
    assert shown.headers["X-TC-Token"] == "***"
    assert shown.headers["X-TC-Region"] == "ap-guangzhou"


def test_base_url_override_signs_the_host_called() -> None:
    wire = make_client(base_url="http://127.0.0.1:8765").prepare("hunyuan/hunyuan-lite", CALC)
    assert wire.url == "http://127.0.0.1:8765/"
    assert wire.headers["Host"] == "127.0.0.1:8765"
    expected = sign_tc3(
        secret_id=SECRET_ID, secret_key=SECRET_KEY, service="hunyuan", host="127.0.0.1:8765",
        timestamp=NOW, payload=wire.body or b"", content_type="application/json",
    )
    assert wire.headers["Authorization"] == expected.authorization


# --- translation details --------------------------------------------------------------------


def body_of(messages: Any, **params: Any) -> Dict[str, Any]:
    body: Dict[str, Any] = make_client().prepare("hunyuan/hunyuan-turbo", messages, **params).json
    return body


@pytest.mark.parametrize(
    "choice, expected",
    [
        ("auto", {"ToolChoice": "auto"}),
        ("none", {"ToolChoice": "none"}),
        # "required" is not documented; with a single tool, forcing it means the same.
        ("required", {"ToolChoice": "custom", "CustomTool": GOLDEN_TOOL}),
        ({"type": "function", "function": {"name": "get_current_weather"}}, {"ToolChoice": "custom", "CustomTool": GOLDEN_TOOL}),
    ],
)
def test_tool_choice_mapping(choice: Any, expected: Dict[str, Any]) -> None:
    body = body_of(ASK, tools=[WEATHER], tool_choice=choice)
    assert {k: v for k, v in body.items() if k in ("ToolChoice", "CustomTool")} == expected


def test_required_tool_choice_with_several_tools_is_refused() -> None:
    other = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(llmplex.InvalidRequestError, match="required") as info:
        body_of(ASK, tools=[WEATHER, other], tool_choice="required")
    assert info.value.field == "tool_choice"


def test_tool_turns_reasoning_and_unsupported_fields() -> None:
    messages = [
        {"role": "user", "content": "北京天气？"},
        {"role": "assistant", "content": None, "reasoning_content": "想一想",
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_current_weather", "arguments": '{"location":"北京"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 35}'},
    ]
    body = body_of(messages, tools=[WEATHER], max_tokens=100, user="u-1", parallel_tool_calls=False)
    assert body["Messages"] == [
        {"Role": "user", "Content": "北京天气？"},
        {"Role": "assistant", "ToolCalls": [
            {"Id": "call_1", "Type": "function", "Function": {"Name": "get_current_weather", "Arguments": '{"location":"北京"}'}}]},
        {"Role": "tool", "Content": '{"temperature": 35}', "ToolCallId": "call_1"},
    ]
    # No MaxTokens/user/parallel field exists in ChatCompletions 2023-09-01: not sent, reported.
    assert set(body) == {"Model", "Messages", "Tools"}
    request = llmplex.ChatRequest(model="hunyuan-turbo", messages=[Message.user("hi")], max_tokens=100, user="u-1")
    assert make_client().provider("hunyuan").dropped(request) == [
        "max_tokens was not sent: Hunyuan's ChatCompletions has no MaxTokens field",
        "user was not sent: Hunyuan's ChatCompletions has no end-user field",
    ]


def test_consecutive_user_messages_are_merged() -> None:
    body = body_of([{"role": "user", "content": "第一句"}, {"role": "user", "content": "第二句"}])
    assert body["Messages"] == [{"Role": "user", "Content": "第一句\n\n第二句"}]
    with_image = body_of([
        {"role": "user", "content": "看图"},
        {"role": "user", "content": [{"type": "text", "text": "这是什么"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]},
    ])
    assert with_image["Messages"] == [{"Role": "user", "Contents": [
        {"Type": "text", "Text": "看图"},
        {"Type": "text", "Text": "这是什么"},
        {"Type": "image_url", "ImageUrl": {"Url": "https://example.com/a.png"}},
    ]}]


@pytest.mark.parametrize(
    "messages, params, field",
    [
        ([{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}], {}, "messages[1].role"),
        ([{"role": "user", "content": ""}], {}, "messages[0].content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}], {}, "messages[0].content"),
        (CALC, {"n": 2}, "n"),
        (CALC, {"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_requests_hunyuan_cannot_serve_are_refused_with_the_field(messages: Any, params: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        body_of(messages, **params)
    assert info.value.field == field
    assert info.value.provider == "hunyuan"


# --- hunyuan-openai preset ------------------------------------------------------------------


def test_hunyuan_openai_preset_golden_request() -> None:
    client = llmplex.Client({"providers": {"hunyuan-openai": {"api_key": "sk-EXAMPLE-hunyuan-0000"}}}, clock=FixedClock(NOW))
    wire = client.prepare(
        "hunyuan-openai/hunyuan-turbos-latest",
        [{"role": "user", "content": "你好"}],
        stream=True,
        temperature=0.5,
        extra={"enable_enhancement": True},
    )
    assert wire.method == "POST"
    assert wire.url == "https://api.hunyuan.cloud.tencent.com/v1/chat/completions"
    assert dict(wire.headers) == {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-EXAMPLE-hunyuan-0000",
        "Accept": "text/event-stream",
    }
    assert wire.json == {
        "model": "hunyuan-turbos-latest",
        "messages": [{"role": "user", "content": "你好"}],
        "temperature": 0.5,
        "stream": True,
        "enable_enhancement": True,
    }


def test_hunyuan_openai_key_comes_from_hunyuan_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUNYUAN_API_KEY", "sk-EXAMPLE-from-env")
    wire = llmplex.Client().prepare("hunyuan-openai/hunyuan-lite", CALC)
    assert wire.headers["Authorization"] == "Bearer sk-EXAMPLE-from-env"


# --- cassettes: replies ---------------------------------------------------------------------


@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("hunyuan/hunyuan-pro", [{"role": "user", "content": "你好呀！"}], temperature=0, top_p=0)
    assert reply.text == "你好！很高兴为您提供帮助。请问有什么问题我可以帮助您解决？"
    assert reply.id == "e4657570-94a5-45f1-896c-a00ac3471d51"
    assert reply.provider == "hunyuan" and reply.model == "hunyuan-pro"
    assert reply.finish_reason == "stop" and reply.finish_reason_raw == "stop"
    assert reply.usage == llmplex.Usage(prompt_tokens=3, completion_tokens=14, total_tokens=17)
    assert reply.raw["Response"]["Note"] == NOTE
    assert reply.message.role == "assistant" and reply.message.tool_calls is None


def _stream(client: llmplex.Client, *args: Any, **kwargs: Any) -> "tuple[List[llmplex.ChatChunk], llmplex.ChatResponse]":
    stream = client.stream(*args, **kwargs)
    chunks = list(stream)
    assert stream.response is not None
    return chunks, stream.response


@pytest.mark.vcr("streamed_reply.json", "non_streamed_twin.json")
def test_streamed_reply_assembles_what_the_non_streamed_call_returns() -> None:
    client = make_client()
    chunks, streamed = _stream(client, "hunyuan/hunyuan-pro", CALC, temperature=1, top_p=1)
    assert [c.text for c in chunks] == ["1", "+", "1", "=", "2", ""]
    assert [c.finish_reason for c in chunks] == [None] * 5 + ["stop"]
    assert chunks[0].usage == llmplex.Usage(prompt_tokens=4, completion_tokens=2, total_tokens=6)
    assert all(c.id == "148b89ef-14e1-489f-8e70-b767e5b27d56" for c in chunks)
    plain = client.chat("hunyuan/hunyuan-pro", CALC, temperature=1, top_p=1)
    for field in ("text", "id", "finish_reason", "finish_reason_raw", "usage", "tool_calls"):
        assert getattr(streamed, field) == getattr(plain, field), field
    # Usage is cumulative in every event: the last one counts, nothing is summed.
    assert streamed.usage == llmplex.Usage(prompt_tokens=4, completion_tokens=5, total_tokens=9)


@pytest.mark.vcr("tool_call_round_trip.json")
def test_tool_call_round_trip() -> None:
    client = make_client()
    params: Dict[str, Any] = {"tools": [WEATHER], "tool_choice": "auto", "temperature": 0, "top_p": 0}
    first = client.chat("hunyuan/hunyuan-functioncall", ASK, **params)
    assert first.finish_reason == "tool_calls"
    assert first.text.startswith("使用get_current_weather工具")
    (call,) = first.tool_calls
    # Example 6 carries no ToolCalls[].Id: the derived id is unique to the reply.
    assert call.id == "call_e7f5ce41-87fd-4977-803c-54cded687cd9_0"
    assert call.name == "get_current_weather"
    assert call.arguments == {"location": ["北京", "深圳"], "unit": "celsius"}
    assert call.raw_arguments == '{"location":["北京","深圳"],"unit":"celsius"}'

    result = '{"temperature": 35, "wind": "南", "condition": "暴雨"}'
    second_messages = ASK + [first.message, Message.tool(call.id, result)]
    second_wire = client.prepare("hunyuan/hunyuan-functioncall", second_messages, **params).json
    assert second_wire == {
        "Model": "hunyuan-functioncall",
        "Messages": [
            {"Role": "user", "Content": "北京和深圳今天天气如何"},
            {"Role": "assistant", "Content": first.text, "ToolCalls": [{
                "Id": "call_e7f5ce41-87fd-4977-803c-54cded687cd9_0",
                "Type": "function",
                "Function": {"Name": "get_current_weather", "Arguments": '{"location":["北京","深圳"],"unit":"celsius"}'},
            }]},
            {"Role": "tool", "Content": result, "ToolCallId": "call_e7f5ce41-87fd-4977-803c-54cded687cd9_0"},
        ],
        "Temperature": 0.0,
        "TopP": 0.0,
        "Tools": [GOLDEN_TOOL],
        "ToolChoice": "auto",
    }
    # The cassette matches on the body, so this call also proves the wire above was sent.
    second = client.chat("hunyuan/hunyuan-functioncall", second_messages, **params)
    assert second.text.startswith("北京今天的天气情况是：")
    assert second.finish_reason == "stop"
    assert second.usage == llmplex.Usage(prompt_tokens=71, completion_tokens=42, total_tokens=113)


@pytest.mark.vcr("streamed_tool_call.json")
def test_streamed_tool_call_fragments_merge_by_id() -> None:
    chunks, response = _stream(make_client(), "hunyuan/hunyuan-functioncall", ASK, tools=[WEATHER], tool_choice="auto")
    assert [len(c.tool_calls) for c in chunks] == [1, 1, 0, 0]
    # The vendor's keys pass through untouched (no Index here); the accumulator merges by Id.
    assert {(d.index, d.id) for c in chunks for d in c.tool_calls} == {(None, "call_cq154vk2c3m1v7ep3530")}
    assert response.finish_reason == "tool_calls"
    (call,) = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_cq154vk2c3m1v7ep3530", "get_current_weather", {"location": "北京"})
    # The explanation arrives after the tool call and is kept.
    assert response.text.startswith("计划使用get_current_weather工具")
    assert response.usage == llmplex.Usage(prompt_tokens=6, completion_tokens=46, total_tokens=52)


@pytest.mark.vcr("image_input.json")
def test_image_input() -> None:
    logo = "https://cloudcache.tencent-cloud.com/qcloud/ui/portal-set/build/About/images/bg-product-series_87d.png"
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "下面图片中是哪个公司的 Logo？"},
        {"type": "image_url", "image_url": {"url": logo}},
        {"type": "image_url", "image_url": {"url": logo}},
    ]}]
    assert make_client().prepare("hunyuan/hunyuan-vision", messages).json["Messages"][0]["Contents"][1] == {
        "Type": "image_url", "ImageUrl": {"Url": logo},
    }
    reply = make_client().chat("hunyuan/hunyuan-vision", messages)
    assert reply.text == "这张图片中展示的Logo属于腾讯公司。"
    assert reply.usage == llmplex.Usage(prompt_tokens=7, completion_tokens=10, total_tokens=17)


# --- cassettes: errors ----------------------------------------------------------------------


def _error_case(cassette: str, error_class: "type[llmplex.LLMError]", code: str, request_id: str) -> Any:
    return pytest.param(error_class, code, request_id, marks=pytest.mark.vcr(cassette), id=code)


@pytest.mark.parametrize(
    "error_class, code, request_id",
    [
        _error_case("error_auth_signature.json", llmplex.AuthenticationError, "AuthFailure.SignatureFailure", "00000000-0000-4000-8000-00000000a001"),
        _error_case("error_rate_limit.json", llmplex.RateLimitError, "RequestLimitExceeded", "00000000-0000-4000-8000-00000000a002"),
        _error_case("error_limit_exceeded.json", llmplex.RateLimitError, "LimitExceeded", "00000000-0000-4000-8000-00000000a005"),
        _error_case("error_internal.json", llmplex.ServerError, "InternalError", "00000000-0000-4000-8000-00000000a003"),
        _error_case("error_content_filter.json", llmplex.ContentFilterError, "OperationDenied.TextIllegalDetected", "00000000-0000-4000-8000-00000000a004"),
    ],
)
def test_error_inside_a_200_reply_maps_to_its_class(error_class: "type[llmplex.LLMError]", code: str, request_id: str) -> None:
    with pytest.raises(error_class) as info:
        make_client().chat("hunyuan/hunyuan-pro", HELLO)
    error = info.value
    assert type(error) is error_class
    assert error.code == code
    assert error.request_id == request_id
    assert error.status == 200
    assert error.provider == "hunyuan" and error.model == "hunyuan-pro"
    assert error.attempts == 1
    assert code in str(error)
    assert SECRET_KEY not in str(error)


@pytest.mark.vcr("error_invalid_parameter.json")
def test_invalid_parameter_is_invalid_request_error() -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        make_client().chat("hunyuan/hunyuan-pro", HELLO, top_p=0, extra={"Temperature": 4.8})
    assert info.value.code == "InvalidParameter"
    assert info.value.request_id == "188cc996-ab09-49a7-aa9f-1df88f11c6b4"
    assert "Temperature must be 2 or less" in str(info.value)


@pytest.mark.vcr("error_internal.json", allow_playback_repeats=True)
def test_server_error_is_retried_then_raised() -> None:
    clock = FixedClock(NOW)
    client = llmplex.Client(
        {"providers": {"hunyuan": {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, "region": "ap-guangzhou"}}},
        clock=clock,
        retry=RetryPolicy(max_retries=1),
    )
    # The cassette's one reply may play twice (allow_playback_repeats), as a retry sees it again.
    with pytest.raises(llmplex.ServerError) as info:
        client.chat("hunyuan/hunyuan-pro", HELLO)
    assert info.value.attempts == 2
    assert len(clock.slept) == 1


@pytest.mark.vcr("stream_error_midway.json")
def test_error_inside_a_200_stream_keeps_the_partial_text() -> None:
    seen: List[str] = []
    with pytest.raises(llmplex.ServerError) as info:
        for chunk in make_client().stream("hunyuan/hunyuan-pro", CALC, temperature=1, top_p=1):
            seen.append(chunk.text)
    assert seen == ["1", "+", "1"]
    error = info.value
    assert error.code == 4001
    assert "请求模型超时" in str(error)
    assert error.partial is not None and error.partial.text == "1+1"
    assert error.attempts == 1  # text had reached the caller: never retried


@pytest.mark.vcr("malformed_reply.json")
def test_malformed_reply_is_protocol_error_with_raw() -> None:
    with pytest.raises(llmplex.ProtocolError) as info:
        make_client().chat("hunyuan/hunyuan-pro", [{"role": "user", "content": "你好呀！"}], temperature=0, top_p=0)
    raw = info.value.raw
    assert isinstance(raw, bytes) and raw.startswith(b"{\n    \"Response\"")
    assert info.value.provider == "hunyuan"


def test_json_error_answering_a_stream_request_maps_like_a_reply() -> None:
    # What the client hands map_error once it sees application/json instead of SSE (see the
    # end-to-end test below): the Response.Error is mapped, not reported as an interruption.
    body = json.dumps({"Response": {"RequestId": "r-1", "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "bad"}}}).encode()
    provider = make_client().provider("hunyuan")
    request = llmplex.ChatRequest(model="hunyuan-pro", messages=[Message.user("计算1+1")], stream=True)
    error = provider.map_error(llmplex.WireResponse(200, {"content-type": "application/json"}, body), request)
    assert isinstance(error, llmplex.AuthenticationError)
    assert (error.code, error.request_id) == ("AuthFailure.SignatureFailure", "r-1")


@pytest.mark.vcr("stream_error_before_start.json")
def test_json_error_before_a_stream_starts_end_to_end() -> None:
    with pytest.raises(llmplex.AuthenticationError):
        list(make_client().stream("hunyuan/hunyuan-pro", CALC, temperature=1, top_p=1))


# --- loopback replay: real sockets and real chunking (vcrpy replays bodies whole) -------------


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_stream_over_a_loopback_server_with_split_utf8(chunk_size: int) -> None:
    from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

    cassette = load_cassette(cassette_path("hunyuan/streamed_tool_call.json"))
    with ReplayServer(cassette.interactions, chunk_size=chunk_size) as server:
        client = make_client(base_url=server.url)
        chunks, response = _stream(client, "hunyuan/hunyuan-functioncall", ASK, tools=[WEATHER], tool_choice="auto")
        sent = server.received[0]
    assert len(chunks) == 4
    assert response.tool_calls[0].arguments == {"location": "北京"}
    assert response.text.startswith("计划使用get_current_weather工具")
    # What reached the server is exactly what was signed, Host included.
    assert sent["headers"]["Host"] == server.url.split("//")[1]
    assert json.loads(sent["body"]) == json.loads(cassette.interactions[0].request_body)
    expected = sign_tc3(
        secret_id=SECRET_ID, secret_key=SECRET_KEY, service="hunyuan", host=sent["headers"]["Host"],
        timestamp=NOW, payload=sent["body"], content_type=sent["headers"]["Content-Type"],
    )
    assert sent["headers"]["Authorization"] == expected.authorization
