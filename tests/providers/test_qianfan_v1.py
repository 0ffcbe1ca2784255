"""Baidu Qianfan V1 (legacy ERNIE, ``qianfan-v1``): golden wire requests, the same request as the
official ``qianfan`` SDK sends (captured on a loopback server), and cassette-driven OAuth token
exchanges (reuse, expiry, refresh on error_code 110/111), replies, streams and errors."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

import llmplex
from llmplex import FixedClock, Message, RetryPolicy
from llmplex.providers.qianfan_v1 import error_class_for_code
from llmplex.testing.replay import Answer, ResponderServer

CASSETTE_DIR = "qianfan"
API_KEY = "EXAMPLE-ernie-api-key"
SECRET_KEY = "EXAMPLE-ernie-secret-key"
NOW = 1700000000
TOKEN1 = "24.EXAMPLE0access0token0one.2592000.1700000000.282335-00000001"
TOKEN2 = "24.EXAMPLE0access0token0two.2592000.1702592000.282335-00000001"
HELLO = [{"role": "user", "content": "你好"}]
BASE = "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop"
PAPERS = {"type": "function", "function": {"name": "paper_search", "description": "搜索论文", "parameters": {
    "type": "object", "properties": {"__arg1": {"type": "string"}}, "required": ["__arg1"]}}}


@pytest.fixture(scope="module")
def vcr_config(vcr_config: Dict[str, Any]) -> Dict[str, Any]:
    return {**vcr_config, "match_on": ["method", "scheme", "host", "port", "path", "query", "body"]}


def make_client(clock: Optional[FixedClock] = None, retries: int = 0, **table: Any) -> llmplex.Client:
    return llmplex.Client({"providers": {"qianfan-v1": {"api_key": API_KEY, "secret_key": SECRET_KEY, **table}}},
                          clock=clock or FixedClock(NOW), retry=RetryPolicy(max_retries=retries, rng=lambda: 0.0))


def build(messages: Any, model: str = "ERNIE-4.0-8K", **params: Any) -> llmplex.WireRequest:
    provider = make_client().provider("qianfan-v1")
    from llmplex.schema.validation import make_request

    return provider.build_request(make_request(model, messages, **params), now=NOW, token=TOKEN1)


# --- golden requests -------------------------------------------------------------------------

CONVERSATION = [
    {"role": "system", "content": "你是论文助手。"},
    {"role": "user", "content": "帮我搜一下"},
    {"role": "user", "content": "物理学的论文"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "paper_search", "arguments": '{"__arg1":"physics"}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": '{"papers": []}'},
]
GOLDEN_BODY = {
    "messages": [
        {"role": "user", "content": "帮我搜一下\n\n物理学的论文"},
        {"role": "assistant", "content": "", "function_call": {"name": "paper_search", "arguments": '{"__arg1":"physics"}'}},
        {"role": "function", "name": "paper_search", "content": '{"papers": []}'},
    ],
    "system": "你是论文助手。",
    "temperature": 0.01,
    "top_p": 0.8,
    "max_output_tokens": 256,
    "stop": ["。"],
    "user_id": "user-1",
    "response_format": "json_object",
    "functions": [{"name": "paper_search", "description": "搜索论文", "parameters": PAPERS["function"]["parameters"]}],
    "tool_choice": {"type": "function", "function": {"name": "paper_search"}},
}


def test_golden_request() -> None:
    wire = build(CONVERSATION, tools=[PAPERS], tool_choice={"name": "paper_search"}, temperature=0, top_p=0.8,
                 max_tokens=256, stop="。", user="user-1", response_format={"type": "json_object"})
    assert wire.method == "POST" and wire.framing == "json"
    assert wire.url == f"{BASE}/chat/completions_pro?access_token={TOKEN1.replace('.', '.')}"
    assert dict(wire.headers) == {"Content-Type": "application/json"}
    assert wire.json == GOLDEN_BODY


@pytest.mark.parametrize("model, endpoint", [
    ("ERNIE-4.0-8K", "completions_pro"), ("ERNIE-3.5-8K", "completions"), ("ERNIE-Speed-8K", "ernie_speed"),
    ("ERNIE-Lite-8K-0922", "eb-instant"), ("ERNIE-Functions-8K", "ernie-func-8k"), ("my-deployment", "my-deployment"),
])
def test_model_names_map_to_endpoints(model: str, endpoint: str) -> None:
    assert urlsplit(build(HELLO, model=model).url).path == f"/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/{endpoint}"


def test_endpoints_option_adds_custom_names_and_stream_sets_sse() -> None:
    provider = make_client(endpoints={"mine": "xyz_custom"}).provider("qianfan-v1")
    from llmplex.schema.validation import make_request

    wire = provider.build_request(make_request("mine", HELLO, stream=True), now=NOW, token=TOKEN1)
    assert urlsplit(wire.url).path.endswith("/chat/xyz_custom")
    assert wire.framing == "sse" and wire.json == {"messages": HELLO, "stream": True}


def test_token_request_is_the_sdks_oauth_call() -> None:
    wire = make_client().provider("qianfan-v1").token_request(now=NOW)
    assert wire is not None and wire.method == "POST" and wire.body == b""
    parts = urlsplit(wire.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://aip.baidubce.com/oauth/2.0/token"
    assert parse_qs(parts.query) == {"grant_type": ["client_credentials"], "client_id": [API_KEY], "client_secret": [SECRET_KEY]}


@pytest.mark.parametrize("messages, params, field", [
    ([{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}], {}, "messages"),
    ([Message.user([llmplex.TextPart(text="看"), llmplex.ImagePart(url="https://example.com/a.png")])], {}, "messages[0].content"),
    ([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], {}, "messages"),
])
def test_requests_the_translation_cannot_express_are_refused(messages: Any, params: Dict[str, Any], field: str) -> None:
    with pytest.raises(llmplex.InvalidRequestError) as info:
        build(messages, **params)
    assert info.value.field == field


@pytest.mark.parametrize("messages, params, field", [
    ([Message.user([llmplex.TextPart(text="看"), llmplex.ImagePart(url="https://example.com/a.png")])], {}, "messages[0].content[1]"),
    (HELLO, {"n": 2}, "n"),
    (HELLO, {"tool_choice": "required", "tools": [PAPERS]}, "tool_choice"),
    (HELLO, {"tool_choice": "none", "tools": [PAPERS]}, "tool_choice"),
    (HELLO, {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}}, "response_format"),
])
def test_the_declared_capabilities_refuse_before_any_exchange(messages: Any, params: Dict[str, Any], field: str) -> None:
    client = make_client()
    with pytest.raises(llmplex.InvalidRequestError) as info:
        client.prepare("qianfan-v1/ERNIE-4.0-8K", messages, **params)  # no network: refused before the token
    assert info.value.field == field
    assert client._tokens.exchanges("qianfan-v1") == 0


def test_seed_is_dropped_and_reported() -> None:
    request = llmplex.ChatRequest(model="ERNIE-4.0-8K", messages=[Message.user("hi")], seed=1)
    assert make_client().provider("qianfan-v1").dropped(request) == ["seed was not sent: ERNIE's chat API has no seed field"]
    assert "seed" not in build(HELLO, seed=1).json


def test_credentials_come_from_the_sdks_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANFAN_AK", API_KEY)
    monkeypatch.setenv("QIANFAN_SK", SECRET_KEY)
    wire = llmplex.Client().provider("qianfan-v1").token_request(now=NOW)
    assert wire is not None and f"client_secret={SECRET_KEY}" in wire.url


# --- the official SDK on a loopback server ------------------------------------------------------

def _baidu(request: Dict[str, Any]) -> Answer:
    if request["path"].startswith("/oauth/2.0/token"):
        return 200, {"access_token": TOKEN1, "expires_in": 2592000}
    return 200, {"id": "as-1", "object": "chat.completion", "created": 1, "result": "ok", "is_truncated": False,
                 "need_clear_history": False, "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def FakeBaidu() -> ResponderServer:
    """Answers the OAuth exchange and the chat calls; keeps what arrived."""
    return ResponderServer(_baidu)


def sdk_sends(**call: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The OAuth query and the chat body the qianfan SDK sends for ``call``."""
    qianfan = pytest.importorskip("qianfan")
    config = qianfan.get_config()
    with FakeBaidu() as fake:
        saved = config.BASE_URL
        config.BASE_URL = fake.url
        try:
            qianfan.ChatCompletion(ak=API_KEY, sk=SECRET_KEY).do(**call)
        finally:
            config.BASE_URL = saved
    oauth = next(r for r in fake.received if r["path"].startswith("/oauth/2.0/token"))
    chat = next(r for r in fake.received if "/wenxinworkshop/chat/" in r["path"])
    return {"path": urlsplit(oauth["path"]).path, "query": parse_qs(urlsplit(oauth["path"]).query)}, \
        {"path": chat["path"], "body": json.loads(chat["body"])}


def test_request_body_equals_what_the_sdk_sends() -> None:
    oauth, chat = sdk_sends(
        model="ERNIE-4.0-8K",
        messages=[{"role": "user", "content": "帮我搜一下物理学的论文"}],
        system="你是论文助手。", temperature=0.5, top_p=0.8, max_output_tokens=256, stop=["。"], user_id="user-1",
        functions=[{"name": "paper_search", "description": "搜索论文", "parameters": PAPERS["function"]["parameters"]}],
    )
    ours = make_client().provider("qianfan-v1").token_request(now=NOW)
    assert ours is not None
    assert oauth["query"] == parse_qs(urlsplit(ours.url).query)
    assert oauth["path"] == urlsplit(ours.url).path
    wire = build([{"role": "system", "content": "你是论文助手。"}, {"role": "user", "content": "帮我搜一下物理学的论文"}],
                 tools=[PAPERS], temperature=0.5, top_p=0.8, max_tokens=256, stop=["。"], user="user-1")
    assert chat["path"].split("?")[0] == urlsplit(wire.url).path
    assert parse_qs(urlsplit(chat["path"]).query) == {"access_token": [TOKEN1]}
    sdk_body = dict(chat["body"])
    # The SDK adds its own tracing flag to every body; not part of the API's documented fields.
    sdk_body.pop("extra_parameters", None)
    assert sdk_body.pop("stream") is False  # the SDK spells out the default; llmplex omits it
    assert sdk_body == wire.json


# --- cassettes: token exchange ------------------------------------------------------------------

@pytest.mark.vcr("v1_plain_reply.json")
def test_one_exchange_serves_many_calls() -> None:
    client = make_client()
    first = client.chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    second = client.chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    assert first.text == "你好！有什么我可以帮助你的吗？" and first.id == "as-bcmt5ct4id"
    assert first.finish_reason == "stop" and first.usage == llmplex.Usage(prompt_tokens=1, completion_tokens=8, total_tokens=9)
    assert second.id == "as-bcmt5ct4ie"
    assert client._tokens.exchanges("qianfan-v1") == 1


@pytest.mark.vcr("v1_token_expiry.json")
def test_an_expiring_token_is_exchanged_again() -> None:
    clock = FixedClock(NOW)
    client = make_client(clock)
    client.chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    clock.advance(3600 - 30)  # inside the refresh margin of a one-hour token
    client.chat("qianfan-v1/ERNIE-4.0-8K", HELLO)  # the cassette wants TOKEN2 in this URL
    assert client._tokens.exchanges("qianfan-v1") == 2


@pytest.mark.vcr("v1_token_refresh.json")
def test_error_code_111_in_a_200_body_refreshes_once() -> None:
    reply = make_client().chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    assert reply.text == "你好！有什么我可以帮助你的吗？"
    assert reply.attempts == 2


@pytest.mark.vcr("v1_token_rejected_twice.json")
def test_a_fresh_token_refused_again_is_not_refreshed_twice() -> None:
    with pytest.raises(llmplex.AuthenticationError) as info:
        make_client(retries=3).chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    assert (info.value.code, info.value.status, info.value.attempts) == (110, 200, 2)
    assert TOKEN2 not in str(info.value) and SECRET_KEY not in str(info.value)


@pytest.mark.vcr("v1_token_invalid_client.json")
def test_a_refused_exchange_names_the_secret_key() -> None:
    with pytest.raises(llmplex.AuthenticationError, match="secret_key") as info:
        make_client().chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    assert SECRET_KEY not in str(info.value) and API_KEY not in str(info.value)


# --- cassettes: replies and errors ----------------------------------------------------------------

@pytest.mark.vcr("v1_streamed_reply.json")
def test_streamed_reply_ends_at_is_end() -> None:
    stream = make_client().stream("qianfan-v1/ERNIE-Speed-8K", HELLO)
    chunks = list(stream)
    assert [c.text for c in chunks] == ["你好", "！有什么", "我可以帮助你的吗？"]
    assert stream.response is not None
    assert stream.response.text == "你好！有什么我可以帮助你的吗？"
    assert stream.response.finish_reason == "stop"
    assert stream.response.usage == llmplex.Usage(prompt_tokens=1, completion_tokens=8, total_tokens=9)


@pytest.mark.vcr("v1_stream_error_midway.json")
def test_an_error_frame_mid_stream_keeps_the_partial_text() -> None:
    seen: List[str] = []
    with pytest.raises(llmplex.ServerError) as info:
        for chunk in make_client().stream("qianfan-v1/ERNIE-Speed-8K", HELLO):
            seen.append(chunk.text)
    assert seen == ["你好", "！有什么"]
    assert info.value.code == 336100
    assert info.value.partial is not None and info.value.partial.text == "你好！有什么"


@pytest.mark.vcr("v1_function_call.json")
def test_function_call_round_trip() -> None:
    client = make_client()
    ask = [{"role": "user", "content": "帮我搜一下物理学的论文"}]
    first = client.chat("qianfan-v1/ERNIE-Functions-8K", ask, tools=[PAPERS])
    assert first.finish_reason == "tool_calls"
    (call,) = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_as-rtpw9dcmef_0", "paper_search", {"__arg1": "physics"})
    history = ask + [first.message, Message.tool(call.id, '{"papers": ["Physics of Everything"]}')]
    second = client.chat("qianfan-v1/ERNIE-Functions-8K", history, tools=[PAPERS])  # the cassette matches this body
    assert second.text.startswith("我找到了一篇物理学论文")


def _case(cassette: str, cls: "type[llmplex.LLMError]", code: int) -> Any:
    return pytest.param(cls, code, marks=pytest.mark.vcr(cassette), id=str(code))


@pytest.mark.parametrize("cls, code", [
    _case("v1_error_18_qps.json", llmplex.RateLimitError, 18),
    _case("v1_error_336501_rpm.json", llmplex.RateLimitError, 336501),
    _case("v1_error_17_daily.json", llmplex.PermissionDeniedError, 17),
    _case("v1_error_336003_param.json", llmplex.InvalidRequestError, 336003),
    _case("v1_error_2_unavailable.json", llmplex.ServerError, 2),
])
def test_errors_inside_200_bodies_map_to_their_class(cls: "type[llmplex.LLMError]", code: int) -> None:
    with pytest.raises(llmplex.LLMError) as info:
        make_client().chat("qianfan-v1/ERNIE-4.0-8K", HELLO)
    assert type(info.value) is cls
    assert (info.value.code, info.value.status, info.value.request_id) == (code, 200, f"as-EXAMPLE00{code}")


@pytest.mark.parametrize("code, cls", [
    (1, llmplex.ServerError), (4, llmplex.RateLimitError), (6, llmplex.PermissionDeniedError),
    (13, llmplex.AuthenticationError), (14, llmplex.AuthenticationError), (100, llmplex.AuthenticationError),
    (19, llmplex.PermissionDeniedError), (336004, llmplex.PermissionDeniedError), (336005, llmplex.NotFoundError),
    (336100, llmplex.ServerError), (336502, llmplex.RateLimitError), (336104, llmplex.InvalidRequestError),
    (336999, llmplex.InvalidRequestError),
])
def test_code_table(code: int, cls: "type[llmplex.LLMError]") -> None:
    assert error_class_for_code(code) is cls


def test_context_length_is_recognised_by_its_message() -> None:
    body = json.dumps({"error_code": 336007, "error_msg": "the max input characters is 20000"}).encode()
    provider = make_client().provider("qianfan-v1")
    with pytest.raises(llmplex.ContextLengthError):
        provider.parse_response(llmplex.WireResponse(200, {}, body), llmplex.ChatRequest(model="m", messages=[Message.user("x")]))


def test_need_clear_history_is_content_filter() -> None:
    body = json.dumps({"id": "as-1", "result": "", "need_clear_history": True, "ban_round": 1}).encode()
    provider = make_client().provider("qianfan-v1")
    reply = provider.parse_response(llmplex.WireResponse(200, {}, body), llmplex.ChatRequest(model="m", messages=[Message.user("x")]))
    assert reply.finish_reason == "content_filter"


def test_a_stream_cut_before_is_end_is_interrupted() -> None:
    provider = make_client().provider("qianfan-v1")
    parser = provider.stream_parser(llmplex.ChatRequest(model="m", messages=[Message.user("x")], stream=True))
    from llmplex.transport.sse import SSEEvent

    parser.feed(SSEEvent(data=json.dumps({"id": "as-1", "result": "你", "is_end": False})))
    with pytest.raises(llmplex.StreamInterruptedError):
        parser.close()


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
def test_token_and_stream_over_a_loopback_server_with_split_utf8(chunk_size: int) -> None:
    from llmplex.testing.replay import ReplayServer, cassette_path, load_cassette

    cassette = load_cassette(cassette_path("qianfan/v1_streamed_reply.json"))
    with ReplayServer(cassette.interactions, chunk_size=chunk_size) as server:
        client = make_client(base_url=server.url + "/rpc/2.0/ai_custom/v1/wenxinworkshop",
                             token_url=server.url + "/oauth/2.0/token")
        stream = client.stream("qianfan-v1/ERNIE-Speed-8K", HELLO)
        texts = [c.text for c in stream]
        sent = list(server.received)
    assert texts == ["你好", "！有什么", "我可以帮助你的吗？"]
    assert [urlsplit(r["path"]).path for r in sent] == ["/oauth/2.0/token", "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/ernie_speed"]
    assert parse_qs(urlsplit(sent[1]["path"]).query) == {"access_token": [TOKEN1]}
    assert json.loads(sent[1]["body"]) == {"messages": HELLO, "stream": True}
