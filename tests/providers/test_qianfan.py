"""Baidu Qianfan V2 (``qianfan``, OpenAI-compatible): API-key and IAM bearer-token auth (the token
request signed with bce-auth-v1 exactly as the official SDK signs it), cassette-driven exchanges
(reuse, expiry, refresh on 401), replies, streams, tools, images and errors."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy
from llmplex.signing.bce import sign_bce
from llmplex.testing.replay import Answer, ResponderServer

CASSETTE_DIR = "qianfan"
API_KEY = "bce-v3/ALTAK-EXAMPLEkey0000/0000000000000000000000000000000000000000"
AK = "EXAMPLEaccesskey0000000000000000"
SK = "EXAMPLEsecretkey0000000000000000"
IAM1 = "bce-v3/ALTAK-EXAMPLEiam00001/1111111111111111111111111111111111111111"
IAM2 = "bce-v3/ALTAK-EXAMPLEiam00002/2222222222222222222222222222222222222222"
NOW = 1700000000
HELLO = [{"role": "user", "content": "你好"}]


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(clock: Optional[FixedClock] = None, retries: int = 0, **table: Any) -> llmplex.Client:
    table = table or {"api_key": API_KEY}
    return llmplex.Client({"providers": {"qianfan": table}}, clock=clock or FixedClock(NOW),
                          retry=RetryPolicy(max_retries=retries, rng=lambda: 0.0))


def iam_client(clock: Optional[FixedClock] = None, **table: Any) -> llmplex.Client:
    return make_client(clock, access_key=AK, secret_key=SK, **table)


# --- requests ---------------------------------------------------------------------------------

def test_api_key_request_is_openai_with_the_key_as_bearer() -> None:
    wire = make_client(api_key=API_KEY, app_id="app-EXAMPLE").prepare("qianfan/ernie-4.0-turbo-8k", HELLO, temperature=0.5)
    assert (wire.method, wire.url) == ("POST", "https://qianfan.baidubce.com/v2/chat/completions")
    assert dict(wire.headers) == {"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}", "appid": "app-EXAMPLE"}
    assert wire.json == {"model": "ernie-4.0-turbo-8k", "messages": HELLO, "temperature": 0.5}


def test_the_bearer_token_request_is_signed_with_bce_auth_v1() -> None:
    wire = iam_client().provider("qianfan").token_request(now=NOW)
    assert wire is not None and wire.method == "GET"
    assert wire.url == "https://iam.bj.baidubce.com/v1/BCE-BEARER/token?expireInSeconds=43200"
    headers = dict(wire.headers)
    expected = sign_bce(
        access_key=AK, secret_key=SK, method="GET", path="/v1/BCE-BEARER/token",
        headers={"Host": "iam.bj.baidubce.com", "Content-Type": "application/json", "x-bce-date": "2023-11-14T22:13:20Z"},
        params=[("expireInSeconds", "43200")], timestamp=NOW, expiration=300,
        signed_headers=["host", "content-type", "x-bce-date"],
    )
    assert headers.pop("Authorization") == expected.authorization
    assert expected.authorization.startswith(f"bce-auth-v1/{AK}/2023-11-14T22:13:20Z/300/content-type;host;x-bce-date/")
    assert headers == {"Host": "iam.bj.baidubce.com", "Content-Type": "application/json", "x-bce-date": "2023-11-14T22:13:20Z"}


def test_the_token_request_signature_equals_the_sdks() -> None:
    iam = pytest.importorskip("qianfan.resources.auth.iam")
    typing = pytest.importorskip("qianfan.resources.typing")
    ours = iam_client().provider("qianfan").token_request(now=NOW)
    assert ours is not None
    request = typing.QfRequest(method="GET", url="/v1/BCE-BEARER/token", query={"expireInSeconds": "43200"},
                               headers={"Content-Type": "application/json", "Host": "iam.bj.baidubce.com"})
    with mock.patch.object(iam.time, "time", return_value=float(NOW)):
        iam.iam_sign(AK, SK, request)
    assert request.headers["x-bce-date"] == ours.headers["x-bce-date"]
    # The SDK lists the signed headers from a Python set (order varies): compare the signature.
    theirs, mine = request.headers["Authorization"], ours.headers["Authorization"]
    assert theirs.rsplit("/", 1)[1] == mine.rsplit("/", 1)[1]
    assert sorted(theirs.split("/")[4].split(";")) == mine.split("/")[4].split(";")


@pytest.mark.parametrize("table, field", [
    ({}, "providers.qianfan.api_key"),
    ({"auth": "iam", "access_key": AK}, "providers.qianfan.access_key"),
    ({"auth": "basic", "api_key": API_KEY}, "providers.qianfan.auth"),
    ({"api_key": API_KEY, "token_ttl": 0}, "providers.qianfan.token_ttl"),
])
def test_missing_or_bad_credentials_name_the_field(table: Dict[str, Any], field: str) -> None:
    client = llmplex.Client({"providers": {"qianfan": table}} if table else None)
    with pytest.raises(llmplex.ConfigError) as info:
        client.prepare("qianfan/ernie-4.0-turbo-8k", HELLO)
    assert info.value.field == field
    assert SK not in str(info.value)


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANFAN_ACCESS_KEY", AK)
    monkeypatch.setenv("QIANFAN_SECRET_KEY", SK)
    provider = llmplex.Client().provider("qianfan")
    assert provider.auth == "iam"  # type: ignore[attr-defined]
    monkeypatch.setenv("QIANFAN_API_KEY", API_KEY)
    assert llmplex.Client().provider("qianfan").auth == "api_key"  # type: ignore[attr-defined]


# --- cassettes ----------------------------------------------------------------------------------

@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("qianfan/ernie-4.0-turbo-8k", HELLO)
    assert reply.text == "你好！有什么可以帮你的吗？" and reply.id == "as-sq01fe52em"
    assert reply.usage == llmplex.Usage(prompt_tokens=2, completion_tokens=9, total_tokens=11)


@pytest.mark.vcr("iam_token_exchange.json")
def test_iam_token_is_cached_until_it_expires() -> None:
    clock = FixedClock(NOW)
    client = iam_client(clock)
    client.chat("qianfan/ernie-4.0-turbo-8k", HELLO)
    clock.advance(43200 - 120)
    client.chat("qianfan/ernie-4.0-turbo-8k", HELLO)  # still the first token
    assert client._tokens.exchanges("qianfan") == 1
    clock.advance(100)  # 20 s before expireTime: inside the refresh margin
    client.chat("qianfan/ernie-4.0-turbo-8k", HELLO)
    assert client._tokens.exchanges("qianfan") == 2


@pytest.mark.vcr("iam_token_refresh.json")
def test_a_401_replaces_the_iam_token_once() -> None:
    reply = iam_client().chat("qianfan/ernie-4.0-turbo-8k", HELLO)
    assert reply.attempts == 2 and reply.text == "你好！有什么可以帮你的吗？"


@pytest.mark.vcr("streamed_reply.json")
def test_streamed_reply() -> None:
    stream = make_client().stream("qianfan/ernie-speed-128k", HELLO)
    assert [c.text for c in stream] == ["你好", "！有什么", "可以帮你的吗？"]
    assert stream.response is not None and stream.response.finish_reason == "stop"
    assert stream.response.usage == llmplex.Usage(prompt_tokens=2, completion_tokens=9, total_tokens=11)


WEATHER = {"type": "function", "function": {"name": "get_current_weather", "description": "获取指定城市的天气",
                                            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}


@pytest.mark.vcr("tool_call.json")
def test_tool_call() -> None:
    reply = make_client().chat("qianfan/ernie-4.0-turbo-8k", [{"role": "user", "content": "上海天气怎么样？"}], tools=[WEATHER])
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments, reply.finish_reason) == ("1", "get_current_weather", {"location": "上海"}, "tool_calls")


@pytest.mark.vcr("image_input.json")
def test_image_input() -> None:
    messages = [Message.user([llmplex.TextPart(text="图里是什么？"), llmplex.ImagePart(url="https://example.com/cat.png")])]
    assert make_client().chat("qianfan/ernie-4.5-turbo-vl-32k", messages).text == "图里是一只猫。"


def _case(cassette: str, cls: "type[llmplex.LLMError]", code: str, status: int) -> Any:
    return pytest.param(cls, code, status, marks=pytest.mark.vcr(cassette), id=code)


@pytest.mark.parametrize("cls, code, status", [
    _case("error_tokens_too_long.json", llmplex.ContextLengthError, "tokens_too_long", 400),
    _case("error_characters_too_long.json", llmplex.ContextLengthError, "characters_too_long", 400),
    _case("error_image_unsafe.json", llmplex.ContentFilterError, "image_url_unsafe", 400),
    _case("error_rate_limit.json", llmplex.RateLimitError, "rpm_rate_limit_exceeded", 429),
    _case("error_invalid_model.json", llmplex.AuthenticationError, "invalid_model", 401),
])
def test_errors_map_to_their_class(cls: "type[llmplex.LLMError]", code: str, status: int) -> None:
    with pytest.raises(llmplex.LLMError) as info:
        make_client().chat("qianfan/ernie-4.0-turbo-8k", HELLO)
    assert type(info.value) is cls
    assert (info.value.code, info.value.status) == (code, status)
    assert API_KEY not in str(info.value)


def test_an_error_frame_inside_a_v2_stream_is_mapped() -> None:
    from llmplex.transport.sse import SSEEvent

    provider = make_client().provider("qianfan")
    parser = provider.stream_parser(llmplex.ChatRequest(model="m", messages=[Message.user("x")], stream=True))
    frame = {"error": {"code": "tokens_too_long", "message": "Prompt tokens too long", "type": "invalid_request_error"}}
    with pytest.raises(llmplex.ContextLengthError) as info:
        parser.feed(SSEEvent(data=json.dumps(frame)))
    assert info.value.code == "tokens_too_long"


def test_a_v1_shaped_error_in_a_v2_reply_is_mapped() -> None:
    provider = make_client().provider("qianfan")
    body = json.dumps({"error_code": 18, "error_msg": "Open api qps request limit reached"}).encode()
    with pytest.raises(llmplex.RateLimitError):
        provider.parse_response(llmplex.WireResponse(200, {}, body), llmplex.ChatRequest(model="m", messages=[Message.user("x")]))


# --- the official SDK's v2 path on a loopback server ---------------------------------------------

def _qianfan(request: Dict[str, Any]) -> Answer:
    if "BCE-BEARER" in request["path"]:
        return 200, {"userId": "u", "token": IAM1, "status": "enable",
                     "createTime": "2023-11-14T22:13:20Z", "expireTime": "2023-11-15T10:13:20Z"}
    return 200, {"id": "as-1", "object": "chat.completion", "created": 1, "model": "ernie-4.0-turbo-8k",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def FakeQianfan() -> ResponderServer:
    """The IAM bearer-token endpoint and the v2 chat endpoint; keeps what arrived."""
    return ResponderServer(_qianfan)


def test_iam_flow_and_body_equal_what_the_sdk_sends() -> None:
    qianfan = pytest.importorskip("qianfan")
    config = qianfan.get_config()
    with FakeQianfan() as fake:
        saved = (config.CONSOLE_API_BASE_URL, config.IAM_BASE_URL)
        config.CONSOLE_API_BASE_URL, config.IAM_BASE_URL = fake.url, fake.url
        try:
            qianfan.ChatCompletion(version="2", access_key=AK, secret_key=SK).do(
                model="ernie-4.0-turbo-8k", messages=HELLO, temperature=0.5, top_p=0.8)
        finally:
            config.CONSOLE_API_BASE_URL, config.IAM_BASE_URL = saved
        client = iam_client(base_url=fake.url + "/v2", token_url=fake.url + "/v1/BCE-BEARER/token")
        sdk_sent = list(fake.received)
        fake.received.clear()
        client.chat("qianfan/ernie-4.0-turbo-8k", HELLO, temperature=0.5, top_p=0.8)
        ours = list(fake.received)
    sdk_token = next(r for r in sdk_sent if "BCE-BEARER" in r["path"])
    sdk_chat = next(r for r in sdk_sent if r["path"].startswith("/v2/chat/completions"))
    our_token, our_chat = ours
    assert (our_token["method"], urlsplit(our_token["path"]).path) == (sdk_token["method"], urlsplit(sdk_token["path"]).path)
    assert parse_qs(urlsplit(our_token["path"]).query) == parse_qs(urlsplit(sdk_token["path"]).query)
    assert our_chat["headers"]["Authorization"] == sdk_chat["headers"]["Authorization"] == f"Bearer {IAM1}"
    sdk_body = json.loads(sdk_chat["body"])
    sdk_body.pop("extra_parameters", None)  # the SDK's own tracing flag
    assert sdk_body.pop("stream") is False  # the SDK spells out the default; llmplex omits it
    assert json.loads(our_chat["body"]) == sdk_body
