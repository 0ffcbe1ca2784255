"""Spark provider, pure parts: versions, the request frame, the signed URL, frame parsing, errors,
and the ``spark-http`` preset. Wire facts: shared/reference/vendors-spark-hunyuan.md §1.

The replay tests against a local WebSocket server are in test_spark_replay.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Dict, List, Type
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplex import Client, FixedClock
from llmplex.schema.validation import make_request
from llmplex.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    LLMError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from llmplex.schema.messages import Message, ToolCall
from llmplex.provider.contract import WireResponse
from llmplex.providers.spark import Spark, SparkStreamParser
from llmplex.providers.spark.errors import error_for_code
from llmplex.providers.spark.frames import tool_call_id
from llmplex.testing.replay_ws import load_frame_log
from llmplex.schema.request import ChatRequest
from llmplex.schema.accumulator import StreamAccumulator
from llmplex.client.retry import RetryPolicy
from llmplex.signing.spark import REJECT_BAD_DATE, sign_spark_url, verify_spark_url

CASSETTES = Path(__file__).resolve().parent.parent.parent / "cassettes" / "spark"

APP_ID = "EXAMPLEAPPID"
API_KEY = "EXAMPLEapikey0123456789abcdef012"
API_SECRET = "EXAMPLEapisecret0123456789abcdef"
# Fri, 05 May 2023 10:43:39 GMT: the date of iFlytek's signing example (reference §1.3).
DOC_TIME = 1683283419
CONFIG: Dict[str, Any] = {"providers": {"spark": {"app_id": APP_ID, "api_key": API_KEY, "api_secret": API_SECRET}}}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询天气",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "城市"},
                "datetime": {"type": "string", "description": "日期"},
            },
            "required": ["location"],
        },
    },
}


def client(config: Dict[str, Any] = CONFIG, now: float = DOC_TIME) -> Client:
    return Client(config, clock=FixedClock(now))


def frames(name: str) -> List[str]:
    return load_frame_log(CASSETTES / f"{name}.jsonl").frames


def request(model: str = "4.0Ultra", **fields: Any) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message.user("你好")], stream=True, **fields)


# --- versions ---------------------------------------------------------------------------------

# Re-typed from reference §1.1 so that an edit of the table shows up here.
DOCUMENTED = [
    ("lite", "wss://spark-api.xf-yun.com/v1.1/chat", "lite"),
    ("pro", "wss://spark-api.xf-yun.com/v3.1/chat", "generalv3"),
    ("pro-128k", "wss://spark-api.xf-yun.com/chat/pro-128k", "pro-128k"),
    ("max", "wss://spark-api.xf-yun.com/v3.5/chat", "generalv3.5"),
    ("max-32k", "wss://spark-api.xf-yun.com/chat/max-32k", "max-32k"),
    ("4.0Ultra", "wss://spark-api.xf-yun.com/v4.0/chat", "4.0Ultra"),
    ("kjwx", "wss://spark-openapi-n.cn-huabei-1.xf-yun.com/v1.1/chat_kjwx", "kjwx"),
    ("x1", "wss://spark-api.xf-yun.com/v1/x1", "x1"),
    ("multilang", "wss://spark-api-n.xf-yun.com/v1.1/chat_multilang", "multilang"),
    # The HTTP API's model names (= WS domains) and any case name the same versions.
    ("generalv3.5", "wss://spark-api.xf-yun.com/v3.5/chat", "generalv3.5"),
    ("generalv3", "wss://spark-api.xf-yun.com/v3.1/chat", "generalv3"),
    ("4.0ultra", "wss://spark-api.xf-yun.com/v4.0/chat", "4.0Ultra"),
]


@pytest.mark.parametrize("model, url, domain", DOCUMENTED)
def test_model_names_map_to_the_documented_url_and_domain(model: str, url: str, domain: str) -> None:
    wire = client().prepare(f"spark/{model}", [{"role": "user", "content": "hi"}])
    assert wire.method == "GET" and wire.framing == "websocket" and wire.headers == {}
    assert wire.url.split("?")[0] == url
    assert wire.json["parameter"]["chat"]["domain"] == domain


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        client().prepare("spark/v9.9", [{"role": "user", "content": "hi"}])
    for name in ("lite", "pro", "pro-128k", "max", "max-32k", "4.0Ultra"):
        assert name in info.value.message
    assert "url" in info.value.message and "domain" in info.value.message


def test_url_and_domain_overrides_cover_unknown_versions() -> None:
    config = {"providers": {"spark": {**CONFIG["providers"]["spark"], "url": "wss://spark-api.xf-yun.com/v9.9/chat"}}}
    wire = client(config).prepare("spark/v9.9-ultra", [{"role": "user", "content": "hi"}], max_tokens=50000)
    assert wire.url.startswith("wss://spark-api.xf-yun.com/v9.9/chat?")
    assert wire.json["parameter"]["chat"] == {"domain": "v9.9-ultra", "max_tokens": 50000}
    config["providers"]["spark"]["domain"] = "ultra-x"
    assert client(config).prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}]).json["parameter"]["chat"] == {
        "domain": "ultra-x"
    }
    with pytest.raises(ConfigError, match="domain must be a non-empty string"):
        config["providers"]["spark"]["domain"] = ""
        client(config).prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}])


def test_base_url_moves_the_host_and_keeps_the_tables_path() -> None:
    config = {"providers": {"spark": {**CONFIG["providers"]["spark"], "base_url": "ws://127.0.0.1:9/"}}}
    wire = client(config).prepare("spark/max-32k", [{"role": "user", "content": "hi"}])
    assert wire.url.startswith("ws://127.0.0.1:9/chat/max-32k?")
    assert parse_qs(urlsplit(wire.url).query)["host"] == ["127.0.0.1:9"]


# --- the request frame ------------------------------------------------------------------------


def test_golden_first_frame_with_tools_system_and_every_parameter() -> None:
    wire = client().prepare(
        "spark/4.0Ultra",
        [
            {"role": "system", "content": "你是一个天气助手。"},
            {"role": "user", "content": "合肥今天天气怎么样？"},
        ],
        tools=[WEATHER],
        tool_choice="auto",
        temperature=0.5,
        max_tokens=1024,
        user="EXAMPLE-user-01",
        extra={
            "top_k": 4,
            "chat_id": "EXAMPLE-chat-01",
            "tools": [{"type": "web_search", "web_search": {"enable": True, "show_ref_label": False, "search_mode": "normal"}}],
            "patch_id": "EXAMPLE-patch",
        },
    )
    expected = {
        "header": {"app_id": APP_ID, "uid": "EXAMPLE-user-01", "patch_id": ["EXAMPLE-patch"]},
        "parameter": {
            "chat": {
                "domain": "4.0Ultra",
                "temperature": 0.5,
                "max_tokens": 1024,
                "top_k": 4,
                "chat_id": "EXAMPLE-chat-01",
                "tools": [
                    {"type": "web_search", "web_search": {"enable": True, "show_ref_label": False, "search_mode": "normal"}}
                ],
            }
        },
        "payload": {
            "message": {
                "text": [
                    {"role": "system", "content": "你是一个天气助手。"},
                    {"role": "user", "content": "合肥今天天气怎么样？"},
                ]
            },
            "functions": {"text": [WEATHER["function"]]},
        },
    }
    assert wire.json == expected
    # Compact UTF-8 JSON in the doc's key order: the exact bytes sent as the first text frame.
    assert wire.body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_tool_loop_is_rewritten_as_text_turns() -> None:
    call = ToolCall(id="call_1", name="get_weather", raw_arguments='{"location":"合肥"}')
    wire = client().prepare(
        "spark/max",
        [
            Message.user("合肥天气？"),
            Message.assistant(tool_calls=[call]),
            Message.tool("call_1", "晴，25℃"),
            Message.user("要带伞吗？"),
        ],
    )
    assert wire.json["payload"]["message"]["text"] == [
        {"role": "user", "content": "合肥天气？"},
        {"role": "assistant", "content": '使用工具：get_weather，参数：{"location":"合肥"}'},
        {"role": "user", "content": "这是函数调用返回的内容，请回答之前的问题：\n晴，25℃"},
        {"role": "user", "content": "要带伞吗？"},
    ]


def test_consecutive_tool_results_become_one_user_turn() -> None:
    calls = [ToolCall(id="a", name="f", raw_arguments="{}"), ToolCall(id="b", name="g", raw_arguments='{"x":1}')]
    wire = client().prepare(
        "spark/max",
        [Message.user("q"), Message.assistant("想一想", tool_calls=calls), Message.tool("a", "1"), Message.tool("b", "2")],
    )
    assert wire.json["payload"]["message"]["text"][1:] == [
        {"role": "assistant", "content": '想一想\n使用工具：f，参数：{}\n使用工具：g，参数：{"x":1}'},
        {"role": "user", "content": "这是函数调用返回的内容，请回答之前的问题：\n1\n2"},
    ]


def test_lite_folds_the_system_prompt_into_the_first_user_turn() -> None:
    messages = [Message.system("简短回答"), Message.system("用中文"), Message.user("hi"), Message.assistant("你好")]
    text = client().prepare("spark/lite", messages).json["payload"]["message"]["text"]
    assert text == [{"role": "user", "content": "简短回答\n\n用中文\n\nhi"}, {"role": "assistant", "content": "你好"}]
    only_system = client().prepare("spark/lite", [Message.system("s")]).json["payload"]["message"]["text"]
    assert only_system == [{"role": "user", "content": "s"}]


def test_a_later_system_turn_is_sent_as_user_as_the_official_sdk_does() -> None:
    messages = [Message.user("a"), Message.assistant("b"), Message.system("c")]
    assert client().prepare("spark/max", messages).json["payload"]["message"]["text"][-1] == {"role": "user", "content": "c"}


def test_tool_choice_none_sends_no_functions() -> None:
    wire = client().prepare("spark/max", [{"role": "user", "content": "hi"}], tools=[WEATHER], tool_choice="none")
    assert "functions" not in wire.json["payload"]


def test_nested_extra_is_merged_into_the_frame() -> None:
    wire = client().prepare(
        "spark/max", [{"role": "user", "content": "hi"}], extra={"parameter": {"chat": {"auditing": "default"}}, "uid": "u1"}
    )
    assert wire.json["parameter"]["chat"] == {"domain": "generalv3.5", "auditing": "default"}
    assert wire.json["header"] == {"app_id": APP_ID, "uid": "u1"}


@pytest.mark.parametrize(
    "model, params, field",
    [
        ("4.0Ultra", {"temperature": 0}, "temperature"),
        ("4.0Ultra", {"temperature": 1.5}, "temperature"),
        ("4.0Ultra", {"max_tokens": 8193}, "max_tokens"),
        ("lite", {"max_tokens": 4097}, "max_tokens"),
        ("4.0Ultra", {"stop": ["\n"]}, "stop"),
        ("4.0Ultra", {"n": 2}, "n"),
        ("4.0Ultra", {"response_format": {"type": "json_object"}}, "response_format"),
        ("4.0Ultra", {"tools": [WEATHER], "tool_choice": "required"}, "tool_choice"),
        ("lite", {"tools": [WEATHER]}, "tools"),
        ("4.0Ultra", {"user": "x" * 33}, "user"),
        ("4.0Ultra", {"extra": {"top_k": 7}}, "extra.top_k"),
        ("4.0Ultra", {"extra": {"header": "x"}}, "extra.header"),
    ],
)
def test_what_spark_cannot_express_is_refused_with_the_field(model: str, params: Dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        client().prepare(f"spark/{model}", [{"role": "user", "content": "hi"}], **params)
    assert info.value.field == field and info.value.message.startswith(f"{field}: ")


def test_sampling_parameters_spark_lacks_are_not_sent_and_reported() -> None:
    c = client()
    wire = c.prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}], top_p=0.9, seed=7, temperature=0.5)
    assert wire.json["parameter"]["chat"] == {"domain": "4.0Ultra", "temperature": 0.5}
    request = make_request("4.0Ultra", [{"role": "user", "content": "hi"}], top_p=0.9, seed=7)
    assert c.provider("spark").dropped(request) == [
        "top_p was not sent: Spark's WebSocket API has no top_p (extra={'top_k': 1..6} exists)",
        "seed was not sent: Spark's WebSocket API has no seed",
    ]


def test_images_are_refused() -> None:
    content = [{"type": "text", "text": "what is it"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    with pytest.raises(InvalidRequestError) as info:
        client().prepare("spark/4.0Ultra", [{"role": "user", "content": content}])
    assert info.value.field == "messages[0].content[1]"


# --- the signed URL ---------------------------------------------------------------------------


def test_prepare_signs_the_url_exactly_as_the_signer_for_the_clocks_time() -> None:
    wire = client(now=DOC_TIME + 0.75).prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}])
    signed = sign_spark_url("wss://spark-api.xf-yun.com/v4.0/chat", api_key=API_KEY, api_secret=API_SECRET, timestamp=DOC_TIME)
    assert wire.url == signed.url
    assert parse_qs(urlsplit(wire.url).query)["date"] == ["Fri, 05 May 2023 10:43:39 GMT"]
    assert verify_spark_url(wire.url, api_key=API_KEY, api_secret=API_SECRET, now=DOC_TIME) is None


def test_prepare_reproduces_iflyteks_documented_url() -> None:
    # Reference §1.3 S1: the only key/secret/path combination that gives the published signature.
    config = {
        "providers": {
            "spark": {
                "app_id": APP_ID,
                "api_key": "addd2272b6d8b7c8abdd79531420ca3b",
                "api_secret": "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi",
            }
        }
    }
    wire = client(config).prepare("spark/lite", [{"role": "user", "content": "hi"}])
    assert wire.url == (
        "wss://spark-api.xf-yun.com/v1.1/chat?authorization=YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhb"
        "Gdvcml0aG09ImhtYWMtc2hhMjU2IiwgaGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURNeWs0"
        "Njd3T1dEUTlxNkJRelIzbmZNVGpjL0RhUT0i&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com"
    )
    ultra = client(config).prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}])
    authorization = base64.b64decode(parse_qs(urlsplit(ultra.url).query)["authorization"][0]).decode()
    assert authorization.endswith('signature="XruyxBmGpK48Gv2TcB2xHzrKYcdGIm5uf6XRNt8N0Dk="')  # §1.3 S5


def test_printed_requests_mask_the_signature_and_keys() -> None:
    c = client()
    wire = c.prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}])
    shown = c.redacted(wire)
    assert "authorization=***&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com" in shown.url
    printed = shown.url + (shown.body or b"").decode()
    signature = sign_spark_url(wire.url.split("?")[0], api_key=API_KEY, api_secret=API_SECRET, timestamp=DOC_TIME).signature
    for secret in (API_KEY, API_SECRET, signature, parse_qs(urlsplit(wire.url).query)["authorization"][0]):
        assert secret not in printed
    assert APP_ID in printed  # sent in clear in every frame: kept readable for debugging
    provider = c.provider("spark")
    assert set(provider.secrets()) == {API_KEY, API_SECRET}


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_APP_ID", APP_ID)
    monkeypatch.setenv("SPARK_API_KEY", API_KEY)
    monkeypatch.setenv("SPARK_API_SECRET", API_SECRET)
    wire = Client({}, clock=FixedClock(DOC_TIME)).prepare("spark/max", [{"role": "user", "content": "hi"}])
    assert verify_spark_url(wire.url, api_key=API_KEY, api_secret=API_SECRET, now=DOC_TIME) is None
    assert wire.json["header"]["app_id"] == APP_ID


def test_a_missing_credential_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="SPARK_API_SECRET"):
        Client({"providers": {"spark": {"app_id": APP_ID, "api_key": API_KEY}}}).prepare("spark/max", [{"role": "user", "content": "hi"}])


def test_an_unsignable_url_is_a_config_error_without_secrets() -> None:
    config = {"providers": {"spark": {**CONFIG["providers"]["spark"], "url": "wss://spark-api.xf-yun.com/v4.0/chat?x=1"}}}
    with pytest.raises(ConfigError) as info:
        client(config).prepare("spark/4.0Ultra", [{"role": "user", "content": "hi"}])
    assert API_SECRET not in str(info.value) and API_KEY not in str(info.value)


# --- reply frames -----------------------------------------------------------------------------


def parse(frame_texts: List[str], model: str = "4.0Ultra") -> StreamAccumulator:
    parser = SparkStreamParser("spark", request(model))
    accumulator = StreamAccumulator(provider="spark", model=model)
    for text in frame_texts:
        for chunk in parser.feed(text):
            accumulator.add(chunk)
        if parser.done:
            break
    for chunk in parser.close():
        accumulator.add(chunk)
    return accumulator


def test_the_documented_reply_frame() -> None:
    response = parse(frames("plain_answer")).response()
    assert response.text == "我可以帮助你的吗？"
    assert response.id == "cht000cb087@dx18793cd421fb894542"
    assert response.finish_reason == "stop" and response.finish_reason_raw is None
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 9, 14)


def test_the_documented_function_call_frame_gives_a_stable_tool_call() -> None:
    first = parse(frames("function_call"), "max").response()
    again = parse(frames("function_call"), "max").response()
    assert first.finish_reason == "tool_calls"
    assert first.message.content is None
    [call] = first.tool_calls
    assert call.name == "天气查询"
    assert call.arguments == {"datetime": "今天", "location": "合肥"}
    assert call.raw_arguments == '{"datetime":"今天","location":"合肥"}'
    assert call.id == "call_cht000b41d5_dx18b851e6931b894550_0_0" == again.tool_calls[0].id


def test_tool_call_ids() -> None:
    assert tool_call_id("cht0@dx1", 3, 0) == "call_cht0_dx1_3_0"
    assert tool_call_id(None, None, 2) == "call_2"


def test_frames_after_the_last_are_ignored() -> None:
    parser = SparkStreamParser("spark", request())
    assert parser.feed(frames("plain_answer")[0])[0].text == "我可以帮助你的吗？"
    assert parser.done and parser.feed("not even json") == [] and parser.close() == []


def test_close_before_the_last_frame_raises() -> None:
    parser = SparkStreamParser("spark", request())
    parser.feed(frames("streamed_answer")[0])
    with pytest.raises(StreamInterruptedError) as info:
        parser.close()
    assert info.value.request_id == "cht000cb087@dx18793cd421fb894542"


@pytest.mark.parametrize(
    "frame, what",
    [
        ("", "is not JSON"),
        ("[1]", "is not a JSON object"),
        ('{"payload": {}}', "has no header"),
        ('{"header": {"code": "0"}}', "has no integer header.code"),
        ('{"header": {"code": 0}, "payload": []}', "not an object"),
        ('{"header": {"code": 0}, "payload": {"choices": {"text": {}}}}', "not a list"),
        ('{"header": {"code": 0}, "payload": {"choices": {"text": [{"content": 5}]}}}', "content that is not a string"),
        ('{"header": {"code": 0}, "payload": {"choices": {"text": [{"function_call": "f"}]}}}', "not an object"),
        ('{"header": {"code": 0}, "payload": {"choices": {"text": [{"function_call": {"arguments": "{}"}}]}}}', "without a name"),
        (
            '{"header": {"code": 0}, "payload": {"choices": {"text": [{"function_call": {"name": "f", "arguments": "[1]"}}]}}}',
            "not a JSON object",
        ),
    ],
)
def test_malformed_frames_are_protocol_errors_with_the_raw_frame(frame: str, what: str) -> None:
    with pytest.raises(ProtocolError) as info:
        SparkStreamParser("spark", request()).feed(frame)
    assert what in info.value.message and info.value.raw == frame


def test_error_frame_maps_to_the_hierarchy_with_code_message_and_sid() -> None:
    [frame] = frames("error_content_filter")
    with pytest.raises(ContentFilterError) as info:
        SparkStreamParser("spark", request()).feed(frame)
    error = info.value
    assert error.code == 10013 and error.request_id == "cht000cb087@dx18793cd421fb894542" and error.raw == frame
    assert "input failed moderation" in error.message and "10013" in error.message


CODE_CLASSES: List[tuple[int, Type[LLMError]]] = [
    (10000, ConnectionError),
    (10002, ConnectionError),
    (10003, InvalidRequestError),
    (10005, InvalidRequestError),
    (10006, RateLimitError),
    (10007, RateLimitError),
    (10008, ServerError),
    (10012, ServerError),
    (10013, ContentFilterError),
    (10014, ContentFilterError),
    (10015, PermissionDeniedError),
    (10016, PermissionDeniedError),
    (10019, ContentFilterError),
    (10021, ContentFilterError),
    (10110, ServerError),
    (10163, InvalidRequestError),
    (10907, ContextLengthError),
    (11200, PermissionDeniedError),
    (11201, RateLimitError),
    (11202, RateLimitError),
    (11203, RateLimitError),
    (99999, ServerError),
]


@pytest.mark.parametrize("code, cls", CODE_CLASSES)
def test_error_code_table(code: int, cls: Type[LLMError]) -> None:
    error = error_for_code(code, "m", provider="spark", model="max", sid="s", raw="{}")
    assert type(error) is cls and error.code == code


def test_daily_quota_is_a_rate_limit_that_is_not_retried() -> None:
    policy = RetryPolicy(max_retries=2)
    daily = error_for_code(11201, "m", provider="spark", model="max", sid="s", raw="{}")
    per_second = error_for_code(11202, "m", provider="spark", model="max", sid="s", raw="{}")
    assert isinstance(daily, RateLimitError) and policy.delay(daily, 1) is None  # a fallback chain still moves on
    assert policy.delay(per_second, 1) is not None


@pytest.mark.parametrize(
    "status, body, cls",
    [
        (401, b'{"message":"HMAC signature does not match"}', AuthenticationError),
        (401, b'{"message":"HMAC signature cannot be verified"}', AuthenticationError),
        (401, b'{"message":"Unauthorized"}', AuthenticationError),
        (403, ('{"message":"%s"}' % REJECT_BAD_DATE).encode(), AuthenticationError),
        (404, b"not found", NotFoundError),
        (503, b"", ServerError),
    ],
)
def test_handshake_rejections(status: int, body: bytes, cls: Type[LLMError]) -> None:
    provider = client().provider("spark")
    error = provider.map_error(WireResponse(status, {}, body), request())
    assert type(error) is cls and error.status == status and error.raw == body
    if body.startswith(b"{"):
        assert json.loads(body)["message"] in error.message


def test_parse_response_takes_a_json_array_of_frames() -> None:
    provider = client().provider("spark")
    body = ("[" + ",".join(frames("streamed_answer")) + "]").encode()
    response = provider.parse_response(WireResponse(200, {}, body), request())
    assert response.text == "你好！我是讯飞星火认知大模型，很高兴为你服务。有什么可以帮你的吗？"
    with pytest.raises(ProtocolError, match="JSON array of frames"):
        provider.parse_response(WireResponse(200, {}, b"{}"), request())
    with pytest.raises(StreamInterruptedError):
        provider.parse_response(WireResponse(200, {}, ("[" + frames("streamed_answer")[0] + "]").encode()), request())
    assert isinstance(provider, Spark) and provider.capabilities_for("4.0Ultra").non_streaming is False


# --- property: the parser raises nothing but LLMError -----------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four, arbitrary JSON otherwise: plausible frames with junk leaves,
    so that the deep paths (text, function calls, usage, the last frame) are reached too."""
    return st.integers(0, 3).flatmap(lambda pick: JSON if pick == 3 else good)


ITEM = st.fixed_dictionaries(
    {"content": mostly(st.text(max_size=8))},
    optional={
        "function_call": mostly(
            st.fixed_dictionaries(
                {"name": mostly(st.text(min_size=1, max_size=5))},
                optional={"arguments": mostly(st.sampled_from(["{}", '{"a": 1}', "[1]", "x", ""]))},
            )
        ),
    },
)
CHOICES = st.fixed_dictionaries(
    {"text": mostly(st.lists(mostly(ITEM), max_size=3))},
    optional={"status": mostly(st.sampled_from([0, 1, 2])), "seq": mostly(st.integers(0, 9))},
)
USAGE_KEYS = st.sampled_from(["prompt_tokens", "completion_tokens", "total_tokens", "question_tokens"])
PAYLOAD = st.fixed_dictionaries(
    {"choices": mostly(CHOICES)},
    optional={"usage": mostly(st.fixed_dictionaries({"text": mostly(st.dictionaries(USAGE_KEYS, mostly(st.integers(0, 99))))}))},
)
HEADER = st.fixed_dictionaries(
    {"code": mostly(st.sampled_from([0, 0, 0, 10013, 11202, 123]))},
    optional={"status": mostly(st.sampled_from([0, 1, 2])), "sid": mostly(st.text(max_size=8)), "message": JSON},
)
FRAME = st.fixed_dictionaries({"header": mostly(HEADER)}, optional={"payload": mostly(PAYLOAD)})


def _drive(events: List[str]) -> None:
    parser = SparkStreamParser("spark", request())
    accumulator = StreamAccumulator(provider="spark", model="4.0Ultra")
    try:
        for event in events:
            for chunk in parser.feed(event):
                accumulator.add(chunk)
        parser.close()
        accumulator.response()
    except LLMError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=40), max_size=4))
def test_arbitrary_text_frames_raise_only_llm_errors(events: List[str]) -> None:
    _drive(events)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAME | JSON, min_size=1, max_size=4))
def test_arbitrary_json_frames_raise_only_llm_errors(values: List[Any]) -> None:
    _drive([json.dumps(v) for v in values])
