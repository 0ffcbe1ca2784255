"""The ``spark-http`` preset: iFlytek's OpenAI-compatible HTTP API through the foundation's
OpenAI-compatible translator, with Spark's documented deviations (reference §1.8)."""

from __future__ import annotations

from typing import Any, Dict

import pytest

from llmplex import Client, FixedClock
from llmplex.errors import AuthenticationError, ContentFilterError, RateLimitError
from llmplex.schema.messages import Message
from llmplex.plugins.manager import Plugins
from llmplex.provider.contract import WireResponse
from llmplex.providers.spark import Spark
from llmplex.providers.spark.http import SparkHTTP
from llmplex.schema.request import ChatRequest
from llmplex.transport.sse import SSEDecoder

DOC_TIME = 1683283419
WEATHER: Dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询天气",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "城市"}},
            "required": ["location"],
        },
    },
}


HTTP_CONFIG = {"providers": {"spark-http": {"api_key": "EXAMPLEapipassword0123456789"}}}


def test_both_providers_are_registered() -> None:
    plugins = Plugins()
    assert plugins.get("spark").spec.factory is Spark
    assert "SPARK_API_PASSWORD" in plugins.get("spark-http").spec.credentials[0].env


def test_spark_http_golden_request() -> None:
    wire = Client(HTTP_CONFIG, clock=FixedClock(DOC_TIME)).prepare(
        "spark-http/generalv3.5",
        [{"role": "system", "content": "简短"}, {"role": "user", "content": "合肥天气？"}],
        stream=True,
        tools=[WEATHER],
        tool_choice="auto",
        temperature=1.5,
        top_p=0.9,
        max_tokens=1024,
        user="EXAMPLE-user",
    )
    assert wire.method == "POST" and wire.framing == "sse"
    assert wire.url == "https://spark-api-open.xf-yun.com/v1/chat/completions"
    assert wire.headers == {
        "Content-Type": "application/json",
        "Authorization": "Bearer EXAMPLEapipassword0123456789",
        "Accept": "text/event-stream",
    }
    assert wire.json == {
        "model": "generalv3.5",
        "messages": [{"role": "system", "content": "简短"}, {"role": "user", "content": "合肥天气？"}],
        "tools": [WEATHER],
        "tool_choice": "auto",
        "temperature": 1.5,
        "top_p": 0.9,
        "max_tokens": 1024,
        "user": "EXAMPLE-user",
        "stream": True,  # no stream_options: not a documented field (§1.8)
        "tool_calls_switch": True,
    }


def test_spark_http_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_API_PASSWORD", "EXAMPLEenvpassword")
    wire = Client({}).prepare("spark-http/lite", [{"role": "user", "content": "hi"}])
    assert wire.headers["Authorization"] == "Bearer EXAMPLEenvpassword"
    assert "tool_calls_switch" not in wire.json  # only sent with tools
    overridden = Client({}).prepare("spark-http/lite", [{"role": "user", "content": "hi"}], tools=[WEATHER], extra={"tool_calls_switch": False})
    assert overridden.json["tool_calls_switch"] is False  # the caller's extra wins


def test_spark_http_documented_reply_and_business_errors() -> None:
    provider = Client(HTTP_CONFIG).provider("spark-http")
    assert isinstance(provider, SparkHTTP)
    http_request = ChatRequest(model="generalv3.5", messages=[Message.user("hi")])
    doc_reply = (
        '{"code":0,"message":"Success","sid":"cha000b0003@dx1905cd86d6bb86d552","choices":[{"message":{"role":"assistant",'
        '"content":"你好"},"index":0}],"usage":{"prompt_tokens":6,"completion_tokens":42,"total_tokens":48}}'
    ).encode()
    response = provider.parse_response(WireResponse(200, {}, doc_reply), http_request)
    assert response.text == "你好" and response.usage is not None and response.usage.total_tokens == 48
    refused = b'{"code":10013,"message":"input failed moderation","sid":"cha000b0003@dx1905cd86d6bb86d552"}'
    with pytest.raises(ContentFilterError) as info:
        provider.parse_response(WireResponse(200, {}, refused), http_request)
    assert info.value.code == 10013 and info.value.request_id == "cha000b0003@dx1905cd86d6bb86d552"
    limited = provider.map_error(WireResponse(429, {}, b'{"code":11202,"message":"m","sid":"s"}'), http_request)
    assert isinstance(limited, RateLimitError) and limited.status == 429
    invalid_user = b'{"error":{"message":"invalid user","type":"api_error","param":null,"code":null}}'
    assert isinstance(provider.map_error(WireResponse(401, {}, invalid_user), http_request), AuthenticationError)


def test_spark_http_stream_without_space_after_data_and_an_error_chunk() -> None:
    provider = Client(HTTP_CONFIG).provider("spark-http")
    streamed = ChatRequest(model="generalv3.5", messages=[Message.user("hi")], stream=True)
    parser = provider.stream_parser(streamed)
    decoder = SSEDecoder()
    body = (
        'data:{"code":0,"message":"Success","sid":"cha1","id":"cha1","created":1,"choices":[{"delta":{"role":"assistant","content":"你"},"index":0}]}\n\n'
        'data:{"code":0,"message":"Success","sid":"cha1","id":"cha1","created":1,"choices":[{"delta":{"role":"assistant","content":"好"},"index":0}],'
        '"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n'
        "data:[DONE]\n\n"
    ).encode()
    chunks = [c for event in decoder.feed(body) + decoder.close() for c in parser.feed(event)]
    assert "".join(c.text for c in chunks) == "你好" and parser.done
    parser = provider.stream_parser(streamed)
    error_chunk = decoder.feed(b'data:{"code":10014,"message":"output failed moderation","sid":"cha2"}\n\n')
    with pytest.raises(ContentFilterError):
        parser.feed(error_chunk[0])
