"""Huawei Cloud Pangu (``pangu``): the three auth schemes (AK/SK signed exactly as
huaweicloudsdkcore signs, APIG API key, IAM token exchanged, cached, refreshed once on 401, one
exchange for many threads), V1/V2 endpoints, cassette replies and errors, and the official SDK's
request on a loopback server."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Optional
from urllib.parse import urlsplit

import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy
from llmplex.signing.huawei import sign_huawei
from llmplex.testing.replay import Answer, ResponderServer

CASSETTE_DIR = "pangu"
AK = "EXAMPLEAKPANGU0000000"
SK = "EXAMPLEskPangu000000000000000000000000000"
API_KEY = "EXAMPLEapigAppCode0000000000000000000000"
PASSWORD = "EXAMPLE-iam-Passw0rd!"
PROJECT = "0123456789abcdef0123456789abcdef"
DEPLOYMENT = "2e4b3f1a-EXAMPLE-deploy"
TOK1 = "MIIEXAMPLEtoken1-pangu-iam-0000000000000000"
TOK2 = "MIIEXAMPLEtoken2-pangu-iam-1111111111111111"
NOW = 1700000000  # 2023-11-14T22:13:20Z
URL = f"https://pangu.cn-southwest-2.myhuaweicloud.com/v1/{PROJECT}/deployments/{DEPLOYMENT}/chat/completions"
HI = [{"role": "user", "content": "你好"}]
NO_BODY = ["method", "scheme", "host", "port", "path", "query"]
IAM_USER = {"username": "example-user", "password": PASSWORD, "domain": "example-account"}


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(clock: Optional[FixedClock] = None, **table: Any) -> llmplex.Client:
    table = {"project_id": PROJECT, "deployment": DEPLOYMENT, **(table or {"access_key": AK, "secret_key": SK})}
    return llmplex.Client({"providers": {"pangu": table}}, clock=clock or FixedClock(NOW),
                          retry=RetryPolicy(max_retries=0, rng=lambda: 0.0))


# --- requests ---------------------------------------------------------------------------------

def test_aksk_request_is_signed_like_the_sdk() -> None:
    wire = make_client().prepare("pangu/pangu-nlp-n2", HI, temperature=0.9, max_tokens=600)
    assert (wire.method, wire.url) == ("POST", URL)
    assert wire.json == {"messages": HI, "temperature": 0.9, "max_tokens": 600}  # V1: the deployment is the model
    headers = dict(wire.headers)
    expected = sign_huawei(access_key=AK, secret_key=SK, method="POST", host="pangu.cn-southwest-2.myhuaweicloud.com",
                           path=urlsplit(URL).path, headers={"Content-Type": "application/json", "X-Project-Id": PROJECT},
                           body=wire.body or b"", now=NOW)
    assert headers == expected.headers
    assert headers["X-Sdk-Date"] == "20231114T221320Z"
    assert headers["Authorization"].startswith(
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;x-project-id;x-sdk-date, Signature=")
    assert SK not in repr(wire)


def test_api_key_and_v2_endpoint() -> None:
    client = llmplex.Client({"providers": {"pangu": {"api_key": API_KEY}}})
    wire = client.prepare("pangu/pangu-nlp-n2", HI, stream=True)
    assert wire.url == "https://pangu.cn-southwest-2.myhuaweicloud.com/api/v2/chat/completions"
    assert dict(wire.headers) == {"Content-Type": "application/json", "Accept": "text/event-stream", "X-Apig-AppCode": API_KEY}
    assert wire.json == {"model": "pangu-nlp-n2", "messages": HI, "stream": True}
    assert API_KEY not in repr(wire)


def test_iam_token_request() -> None:
    provider = make_client(**IAM_USER).provider("pangu")
    assert provider.auth == "token"  # type: ignore[attr-defined]
    wire = provider.token_request(now=NOW)
    assert wire is not None
    assert (wire.method, wire.url) == ("POST", "https://iam.cn-southwest-2.myhuaweicloud.com/v3/auth/tokens?nocatalog=true")
    assert wire.json == {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "example-user", "password": PASSWORD, "domain": {"name": "example-account"}}}},
        "scope": {"project": {"id": PROJECT}}}}
    chat = provider.build_request(llmplex.ChatRequest(model="m", messages=[Message.user("你好")]), now=NOW, token=TOK1)
    assert chat.headers["X-Auth-Token"] == TOK1 and "Authorization" not in chat.headers


@pytest.mark.parametrize("table, field", [
    ({"auth": "aksk", "access_key": AK}, "providers.pangu.secret_key"),
    ({"auth": "token", "username": "u", "password": PASSWORD}, "providers.pangu.domain"),
    ({"auth": "sso"}, "providers.pangu.auth"),
    ({"api_key": API_KEY, "deployment": DEPLOYMENT}, "providers.pangu.project_id"),
])
def test_missing_or_bad_credentials_name_the_field(table: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.ConfigError) as info:
        llmplex.Client({"providers": {"pangu": table}}).prepare("pangu/m", HI)
    assert info.value.field == field
    assert PASSWORD not in str(info.value)


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", AK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", SK)
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", PROJECT)
    provider = llmplex.Client({"providers": {"pangu": {"deployment": DEPLOYMENT}}}).provider("pangu")
    assert provider.auth == "aksk"  # type: ignore[attr-defined]
    monkeypatch.setenv("PANGU_API_KEY", API_KEY)
    assert llmplex.Client().provider("pangu").auth == "api_key"  # type: ignore[attr-defined]


def test_images_and_unlisted_parameters_are_refused() -> None:
    client = make_client()
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("pangu/m", [Message.user([llmplex.ImagePart(url="https://example.com/a.png")])])
    assert info.value.field == "messages[0].content[0]"
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("pangu/m", HI, response_format="json_object")
    assert info.value.field == "response_format"


# --- cassettes ----------------------------------------------------------------------------------

@pytest.mark.vcr("plain_reply.json")
def test_plain_reply() -> None:
    reply = make_client().chat("pangu/pangu", [{"role": "user", "content": "介绍下长江，以及长江中典型的鱼类"}],
                               temperature=0.9, max_tokens=600)
    assert reply.text.startswith("长江是中国第一大河") and reply.finish_reason == "stop"
    assert reply.usage == llmplex.Usage(prompt_tokens=17, completion_tokens=44, total_tokens=61)
    assert reply.tool_calls == []  # the doc's empty tool_calls list is no call


@pytest.mark.vcr("streamed_reply.json")
def test_streamed_reply() -> None:
    stream = make_client().stream("pangu/pangu", [{"role": "user", "content": "介绍下长江，以及长江中典型的鱼类"}])
    assert [c.text for c in stream if c.text] == ["长江是", "中国第一大河。"]
    assert stream.response is not None and stream.response.finish_reason == "stop"
    assert stream.response.usage == llmplex.Usage(prompt_tokens=17, completion_tokens=8, total_tokens=25)


WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "查询城市天气",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


@pytest.mark.vcr("tool_call.json")
def test_tool_call() -> None:
    reply = make_client().chat("pangu/pangu", [{"role": "user", "content": "贵阳今天天气怎么样？"}], tools=[WEATHER])
    (call,) = reply.tool_calls
    assert (call.id, call.name, call.arguments, reply.finish_reason) == ("chatcmpl-tool-EXAMPLE01", "get_weather", {"city": "贵阳"}, "tool_calls")


# The exchange body carries the password, which the cassette does not keep: match without bodies.
@pytest.mark.vcr("iam_token_exchange.json", match_on=NO_BODY)
def test_iam_token_is_cached_until_it_expires() -> None:
    clock = FixedClock(NOW)
    client = make_client(clock, **IAM_USER)
    client.chat("pangu/pangu", HI)
    clock.advance(3600)
    client.chat("pangu/pangu", HI)  # still the first token
    assert client._tokens.exchanges("pangu") == 1
    clock.advance(24 * 3600 - 3600 - 40)  # 40 s before expires_at: inside the refresh margin
    client.chat("pangu/pangu", HI)
    assert client._tokens.exchanges("pangu") == 2


@pytest.mark.vcr("iam_token_refresh.json", match_on=NO_BODY)
def test_a_401_replaces_the_iam_token_once() -> None:
    reply = make_client(**IAM_USER).chat("pangu/pangu", HI)
    assert reply.attempts == 2 and reply.text == "你好！有什么可以帮您？"


def test_a_missing_subject_token_is_a_protocol_error() -> None:
    provider = make_client(**IAM_USER).provider("pangu")
    with pytest.raises(llmplex.ProtocolError):
        provider.parse_token(llmplex.WireResponse(201, {}, b'{"token":{"expires_at":"2023-11-15T22:13:20.000000Z"}}'), now=NOW)
    token = provider.parse_token(llmplex.WireResponse(201, {"x-subject-token": TOK1}, b"{}"), now=NOW)
    assert token.expires_at == NOW + 24 * 3600 and TOK1 not in repr(token)


def _case(cassette: str, cls: "type[llmplex.LLMError]", code: str) -> Any:
    return pytest.param(cls, code, marks=pytest.mark.vcr(cassette), id=code)


@pytest.mark.parametrize("cls, code", [
    _case("error_3267_rate_limit.json", llmplex.RateLimitError, "PANGU.3267"),
    _case("error_3318_too_long.json", llmplex.ContextLengthError, "PANGU.3318"),
    _case("error_0011_auth.json", llmplex.AuthenticationError, "PANGU.0011"),
    _case("error_3254_not_found.json", llmplex.NotFoundError, "PANGU.3254"),
    _case("error_0031_internal.json", llmplex.ServerError, "PANGU.0031"),
])
def test_errors_map_to_their_class(cls: "type[llmplex.LLMError]", code: str) -> None:
    with pytest.raises(llmplex.LLMError) as info:
        make_client().chat("pangu/pangu", HI)
    assert type(info.value) is cls and info.value.code == code
    assert code in str(info.value) and SK not in str(info.value)


def test_errors_in_a_200_body_and_in_a_stream() -> None:
    provider = make_client().provider("pangu")
    request = llmplex.ChatRequest(model="m", messages=[Message.user("x")], stream=True)
    body = json.dumps({"error_code": "PANGU.3267", "error_msg": "qps exceed the limit."}).encode()
    with pytest.raises(llmplex.RateLimitError) as info:
        provider.parse_response(llmplex.WireResponse(200, {}, body), request)
    assert info.value.status == 429
    from llmplex.transport.sse import SSEEvent

    with pytest.raises(llmplex.ServerError):
        provider.stream_parser(request).feed(SSEEvent(data='{"error_code":"PANGU.3342","error_msg":"inference failed"}'))


def test_one_token_exchange_for_many_threads() -> None:
    with FakePangu() as fake:
        client = make_client(**IAM_USER, base_url=fake.url, token_url=fake.url + "/v3/auth/tokens")
        errors: List[BaseException] = []

        def call() -> None:
            try:
                client.chat("pangu/pangu", HI)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert [r["path"] for r in fake.received].count("/v3/auth/tokens?nocatalog=true") == 1
    chats = [r for r in fake.received if "chat/completions" in r["path"]]
    assert len(chats) == 8 and {r["headers"]["X-Auth-Token"] for r in chats} == {TOK1}


# --- the official SDK on a loopback server --------------------------------------------------------

def _pangu(request: Dict[str, Any]) -> Answer:
    if request["path"].startswith("/v3/auth/tokens"):
        return 201, {"token": {"expires_at": "2023-11-15T22:13:20.000000Z"}}, {"X-Subject-Token": TOK1}
    return 200, {"id": "c", "object": "chat.completion", "created": 1, "model": "pangu",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def FakePangu() -> ResponderServer:
    """The IAM token endpoint (201 with X-Subject-Token) and the chat endpoint; keeps what arrived."""
    return ResponderServer(_pangu)


def test_request_and_signature_equal_what_the_sdk_sends() -> None:
    pytest.importorskip("huaweicloudsdkpangulargemodels")
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkpangulargemodels.v1 import ChatCompletionReq, ExecuteChatCompletionRequest, Message as SdkMessage
    from huaweicloudsdkpangulargemodels.v1 import PanguLargeModelsClient

    with FakePangu() as fake:
        sdk = (PanguLargeModelsClient.new_builder().with_credentials(BasicCredentials(AK, SK, PROJECT))
               .with_endpoints([fake.url]).build())
        sdk.execute_chat_completion(ExecuteChatCompletionRequest(deployment_id=DEPLOYMENT, body=ChatCompletionReq(
            messages=[SdkMessage(role="user", content="你好")], temperature=0.9, max_tokens=600)))
        sdk_sent = fake.received[0]
        # Same X-Sdk-Date and User-Agent as the SDK's request, so that the signatures compare.
        date = sdk_sent["headers"]["X-Sdk-Date"]
        from datetime import datetime, timezone

        at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        client = make_client(FixedClock(at), access_key=AK, secret_key=SK, base_url=fake.url)
        client.chat("pangu/pangu", HI, temperature=0.9, max_tokens=600)
        ours = fake.received[1]
    assert ours["path"] == sdk_sent["path"] == f"/v1/{PROJECT}/deployments/{DEPLOYMENT}/chat/completions"
    assert json.loads(ours["body"]) == json.loads(sdk_sent["body"])
    assert ours["headers"]["X-Project-Id"] == sdk_sent["headers"]["X-Project-Id"] == PROJECT
    # The SDK also signs its User-Agent (with a per-install random id) and Content-Type with a
    # charset; re-sign its exact headers with llmplex's signer and get its signature.
    signed = {k: v for k, v in sdk_sent["headers"].items() if k.lower() not in ("authorization", "content-length",
                                                                               "accept-encoding", "accept", "connection")}
    theirs = sign_huawei(access_key=AK, secret_key=SK, method="POST", host=signed.pop("Host"),
                         path=urlsplit(sdk_sent["path"]).path, headers=signed, body=sdk_sent["body"], now=at)
    assert theirs.authorization == sdk_sent["headers"]["Authorization"]
    assert ours["headers"]["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=")


@pytest.mark.vcr("stream_tool_call.json")
def test_streamed_tool_call() -> None:
    stream = make_client().stream("pangu/pangu", [{"role": "user", "content": "贵阳今天天气怎么样？"}], tools=[WEATHER])
    list(stream)
    assert stream.response is not None
    (call,) = stream.response.tool_calls
    assert (call.id, call.name, call.arguments) == ("chatcmpl-tool-EXAMPLE02", "get_weather", {"city": "贵阳"})
    assert stream.response.finish_reason == "tool_calls"


@pytest.mark.vcr("iam_token_wrong_password.json", match_on=NO_BODY)
def test_a_refused_iam_login_is_an_authentication_error_without_the_password() -> None:
    client = make_client(**IAM_USER)
    with pytest.raises(llmplex.AuthenticationError) as info:
        client.chat("pangu/pangu", HI)
    assert info.value.status == 401 and "username or password is wrong" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
    assert client._tokens.exchanges("pangu") == 1  # a refused login is not retried as a stale token
