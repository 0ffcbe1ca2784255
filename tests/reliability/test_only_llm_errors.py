"""The promise of ``docs/errors.md``, checked with hypothesis over the public surface: whatever a
caller passes to ``chat``, ``stream``, ``prepare``, the model constructors or a config dict, and
whatever the loopback server answers, only ``LLMError``s escape (and the constructors raise only
``InvalidRequestError``)."""

from __future__ import annotations

import json
import math
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List

import faults
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.errors import InvalidRequestError, LLMError
from llmplex.schema.messages import ImagePart, Message, TextPart, ToolCall
from llmplex.schema.request import ChatRequest, JSONSchemaFormat, ResponseFormat
from llmplex.schema.tools import Tool, ToolChoice

SURFACE = settings(max_examples=int(os.environ.get("LLMPLEX_FUZZ_EXAMPLES", "60")), deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                          HealthCheck.filter_too_much, HealthCheck.data_too_large])
KEY = "sk-llmplex-CANARY-surface-0123456789"


class _Odd:
    """An object JSON has no type for."""


def _circular() -> Dict[str, Any]:
    loop: Dict[str, Any] = {}
    loop["loop"] = loop
    return loop


def _huge() -> int:
    return 10**5000  # more digits than Python prints (3.11+)


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=8)
    | st.sampled_from([math.nan, math.inf, -math.inf, "\ud800", "a\udfffb", "", " ", "\n", "f/m"])
    | st.builds(_Odd) | st.builds(_circular) | st.builds(_huge) | st.builds(_deep, st.sampled_from([50, 150, 5000]))
)
KEYS = st.text(max_size=12) | st.integers() | st.tuples(st.integers()) | st.sampled_from(["\ud800", "role", "content"])
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3)
    | st.tuples(inner) | st.frozensets(st.integers(), max_size=2),
    max_leaves=8,
)
ROLES = st.sampled_from(["user", "assistant", "system", "tool", "developer", "bot", ""]) | VALUES
PART = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "image", "audio"]) | VALUES},
    optional={"text": st.text(max_size=10) | VALUES, "image_url": VALUES | st.just({"url": "https://x/y.png"}),
              "url": VALUES, "data": VALUES, "media_type": VALUES, "cache": VALUES},
)
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES},
    optional={
        "content": st.text(max_size=20) | st.lists(PART, max_size=2) | VALUES,
        "name": VALUES, "tool_call_id": VALUES, "reasoning_content": VALUES, "extra_key": VALUES,
        "tool_calls": st.lists(st.fixed_dictionaries({"id": VALUES | st.just("c1"), "type": VALUES | st.just("function"),
                                                      "function": VALUES | st.fixed_dictionaries(
                                                          {"name": VALUES | st.just("f"), "arguments": VALUES})}), max_size=2),
    },
)
MESSAGES = st.lists(MESSAGE | st.just({"role": "user", "content": "Hi"}), max_size=3) | VALUES
PARAM_NAMES = st.sampled_from([
    "temperature", "top_p", "max_tokens", "stop", "seed", "n", "response_format", "user", "parallel_tool_calls",
    "tools", "tool_choice", "extra", "stream", "timeout", "total_timeout", "max_retries", "retry",
    "rate_limit_wait", "strict", "keep_raw", "headers", "max_completion_tokens", "temprature",
])
PARAMS = st.dictionaries(PARAM_NAMES, VALUES, max_size=4)
MODELS = st.sampled_from(["fault/m", "fault/", "/m", "fault", "nosuch/m", "fast"]) | VALUES


class _AlwaysAnswers(BaseHTTPRequestHandler):
    """A completion for every request; a stream when the request asks for one."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            streamed = bool(json.loads(body).get("stream"))
        except (ValueError, AttributeError):
            streamed = False
        if streamed:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            payload = b"".join(faults.sse(["Hel", "lo"]).pieces)
        else:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            payload = b"".join(faults.completion("Hello").pieces)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AlwaysAnswers)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _client(url: str) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": url}},
         "models": {"fast": "fault/m"}},
        clock=FixedClock(1_700_000_000.0), plugins=faults.plugins(), retry=RetryPolicy(max_retries=0),
        timeouts=Timeouts(connect=1.0, read=2.0),
    )


def _only_llm_errors(call: Callable[[], Any]) -> None:
    try:
        call()
    except LLMError:
        pass  # the promise: typed errors only (anything else fails the test with its traceback)


@SURFACE
@given(model=MODELS, messages=MESSAGES, params=PARAMS)
def test_chat_raises_only_llm_errors(server_url: str, model: Any, messages: Any, params: Dict[str, Any]) -> None:
    client = _client(server_url)
    _only_llm_errors(lambda: client.chat(model, messages, **params))


@SURFACE
@given(model=MODELS, messages=MESSAGES, params=PARAMS)
def test_stream_raises_only_llm_errors(server_url: str, model: Any, messages: Any, params: Dict[str, Any]) -> None:
    client = _client(server_url)

    def run() -> None:
        with client.stream(model, messages, **params) as stream:
            for _ in stream:
                pass

    _only_llm_errors(run)


@SURFACE
@given(model=MODELS, messages=MESSAGES, params=PARAMS)
def test_prepare_raises_only_llm_errors(server_url: str, model: Any, messages: Any, params: Dict[str, Any]) -> None:
    client = _client(server_url)
    _only_llm_errors(lambda: client.prepare(model, messages, **params))


def test_a_valid_call_still_answers(server_url: str) -> None:
    client = _client(server_url)
    assert client.chat("fault/m", [{"role": "user", "content": "Hi"}]).text == "Hello"
    assert "".join(c.text for c in client.stream("fast", [{"role": "user", "content": "Hi"}])) == "Hello"


MODELS_TO_BUILD: List[Any] = [Message, TextPart, ImagePart, ToolCall, Tool, ToolChoice, ChatRequest, ResponseFormat,
                              JSONSchemaFormat]
FIELD_NAMES = st.sampled_from([
    "role", "content", "name", "tool_calls", "tool_call_id", "reasoning_content", "extra", "text", "type", "url",
    "data", "media_type", "detail", "id", "arguments", "raw_arguments", "description", "parameters", "strict",
    "mode", "model", "messages", "tools", "tool_choice", "temperature", "stop", "json_schema", "schema", "bogus",
])


@SURFACE
@given(cls=st.sampled_from(MODELS_TO_BUILD), kwargs=st.dictionaries(FIELD_NAMES, VALUES, max_size=5))
def test_model_constructors_raise_only_invalid_request(cls: Any, kwargs: Dict[str, Any]) -> None:
    try:
        cls(**kwargs)
    except InvalidRequestError as error:
        assert error.field is None or isinstance(error.field, str)


@SURFACE
@given(b64=VALUES, media_type=VALUES)
def test_from_base64_raises_only_invalid_request(b64: Any, media_type: Any) -> None:
    try:
        ImagePart.from_base64(b64, media_type)
    except InvalidRequestError:
        pass


TABLE_KEYS = st.sampled_from([
    "type", "api_key", "base_url", "base_ulr", "timeout", "total_timeout", "connect_timeout", "max_retries", "retry",
    "rate_limit", "strict", "model", "temperature",
])
CONFIGS = st.fixed_dictionaries({}, optional={
    "providers": st.dictionaries(st.sampled_from(["fault", "openai", "x"]) | KEYS,
                                 st.dictionaries(TABLE_KEYS, VALUES | st.just("openai-compatible"), max_size=4) | VALUES,
                                 max_size=2) | VALUES,
    "defaults": st.dictionaries(TABLE_KEYS, VALUES, max_size=3) | VALUES,
    "models": st.dictionaries(st.text(max_size=6), VALUES | st.just("fault/m") | st.just("fast"), max_size=3) | VALUES,
    "bogus": VALUES,
})


@SURFACE
@given(config=CONFIGS, model=MODELS)
def test_config_dicts_raise_only_llm_errors(server_url: str, config: Dict[str, Any], model: Any) -> None:
    def run() -> None:
        client = llmplex.Client(config, plugins=faults.plugins(), retry=RetryPolicy(max_retries=0),
                                timeouts=Timeouts(connect=1.0, read=2.0))
        client.chat(model, [{"role": "user", "content": "Hi"}])

    _only_llm_errors(run)
