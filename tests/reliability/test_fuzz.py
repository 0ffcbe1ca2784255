"""Fuzzing every decoder and every reply parser: arbitrary bytes and arbitrary JSON must never
raise anything but an ``LLMError`` subclass.

Providers are enumerated from ``llmplex.plugins.manager.default_plugins().providers``, so a provider
registered later (by its plugin) is covered without touching this file. Each is built through
the real ``Client.provider`` path with fake credentials; one that cannot be built that way fails
its test (a provider needing particular options gets them from :data:`BUILD_OPTIONS`).

Covered per provider: ``parse_response`` (bytes and JSON), ``map_error`` (any status, bytes),
the stream parser fed through the decoder of the provider's own framing (bytes, and decoded
events carrying JSON), and ``parse_token`` for providers with a token exchange. Also covered on
their own: ``llmplex.transport.sse``, ``llmplex.transport.ndjson``, ``parse_retry_after``,
``status_error``.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmplex
from llmplex.provider.error_mapping import parse_retry_after, status_error
from llmplex.errors import LLMError
from llmplex.plugins.manager import default_plugins
from llmplex.provider.contract import Provider, WireResponse
from llmplex.schema.request import ChatRequest
from llmplex.transport.ndjson import NDJSONDecoder
from llmplex.transport.sse import SSEDecoder, SSEEvent

T0 = 1_700_000_000.0
# 40 examples per provider and entry point keep the suite fast; set LLMPLEX_FUZZ_EXAMPLES=2000
# for a deep run.
FUZZ = settings(max_examples=int(os.environ.get("LLMPLEX_FUZZ_EXAMPLES", "40")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Options a provider needs to be built and to build a request (keep this small).
BUILD_OPTIONS: Dict[str, Dict[str, Any]] = {
    "openai-compatible": {"base_url": "http://127.0.0.1:9/v1"},
}
#: A model name each provider accepts (default: "fuzz-model").
MODELS: Dict[str, str] = {"spark": "4.0Ultra", "hunyuan": "hunyuan-turbo"}
#: Values for credentials that are not secrets and have a format.
PLAIN_CREDENTIALS: Dict[str, str] = {"region": "ap-guangzhou", "app_id": "canary01"}

PROVIDERS = sorted(default_plugins().providers)


def fake_config(name: str) -> Dict[str, Any]:
    spec = default_plugins().providers[name].spec
    table: Dict[str, Any] = {}
    for credential in spec.credentials:
        if credential.secret:
            table[credential.key] = f"sk-llmplex-CANARY-{name}-{credential.key}-0123456789abcdef"
        else:
            table[credential.key] = PLAIN_CREDENTIALS.get(credential.key, "canary-value")
    table.update(BUILD_OPTIONS.get(name, {}))
    return {name: table}


@functools.lru_cache(maxsize=None)
def build(name: str) -> Provider:
    """The provider built through ``Client.provider`` (cached: providers are immutable)."""
    client = llmplex.Client({"providers": fake_config(name)}, plugins=default_plugins())
    return client.provider(name)


def request_for(name: str, *, stream: bool = False) -> ChatRequest:
    return ChatRequest(model=MODELS.get(name, "fuzz-model"), messages=[{"role": "user", "content": "Hi"}], stream=stream)


# -- strategies ------------------------------------------------------------------------------------
VOCABULARY = [
    "choices", "message", "delta", "content", "role", "tool_calls", "function", "arguments", "name", "id", "index",
    "finish_reason", "usage", "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details",
    "completion_tokens_details", "cached_tokens", "reasoning_tokens", "reasoning_content", "reasoning", "error", "code",
    "type", "object", "model", "request_id", "param", "data", "status", "text", "seq", "sid", "uid", "header",
    "payload", "Response", "Choices", "Message", "Delta", "Content", "Role", "ToolCalls", "Function", "Arguments",
    "Name", "Id", "Index", "FinishReason", "Usage", "PromptTokens", "CompletionTokens", "TotalTokens", "Error",
    "Code", "RequestId", "ReasoningContent", "ErrorMsg", "Msg", "access_token", "expires_in", "done", "done_reason",
]
WORDS = ["stop", "length", "tool_calls", "content_filter", "[DONE]", "assistant", "function", "null", "error",
         "rate_limit_error", "server_error", "insufficient_quota", "invalid_request_error", "", "{", "}"]
KEYS = st.sampled_from(VOCABULARY) | st.text(max_size=6)
SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=24) | st.sampled_from(WORDS)
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
                    max_leaves=15)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=6)
JSON_BYTES = JSON.map(lambda v: json.dumps(v).encode())
ANY_BYTES = st.binary(max_size=400) | JSON_BYTES | JSON_BYTES.map(lambda b: b[: len(b) // 2])
HEADERS = st.dictionaries(
    st.sampled_from(["retry-after", "retry-after-ms", "x-request-id", "x-should-retry", "content-type"]) | st.text(max_size=8),
    st.text(max_size=40), max_size=4)


def only_llm_errors(action: Any) -> Any:
    """Run ``action``; return its result, or the LLMError it raised. Anything else fails."""
    try:
        return action()
    except LLMError as exc:
        return exc


def split(data: bytes, cuts: List[int]) -> List[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points + [len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


# -- every provider can be built with fake credentials ------------------------------------------------
def test_the_registry_is_not_empty() -> None:
    assert "openai" in PROVIDERS and len(PROVIDERS) >= 10


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_provider_builds_with_fake_credentials(name: str) -> None:
    provider = build(name)
    for stream in (False, True):
        wire = provider.build_request(request_for(name, stream=stream), now=T0)
        assert wire.framing in ("json", "sse", "ndjson", "websocket")


# -- replies ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PROVIDERS)
@FUZZ
@given(body=ANY_BYTES, headers=HEADERS)
def test_parse_response_bytes(name: str, body: bytes, headers: Dict[str, str]) -> None:
    provider = build(name)
    only_llm_errors(lambda: provider.parse_response(WireResponse(200, headers, body), request_for(name)))


@pytest.mark.parametrize("name", PROVIDERS)
@FUZZ
@given(payload=OBJECTS | JSON)
def test_parse_response_json(name: str, payload: Any) -> None:
    provider = build(name)
    body = json.dumps(payload).encode()
    only_llm_errors(lambda: provider.parse_response(WireResponse(200, {}, body), request_for(name)))


@pytest.mark.parametrize("name", PROVIDERS)
@FUZZ
@given(status=st.integers(min_value=100, max_value=599), body=ANY_BYTES | OBJECTS.map(lambda o: json.dumps(o).encode()),
       headers=HEADERS)
def test_map_error_always_gives_an_llm_error(name: str, status: int, body: bytes, headers: Dict[str, str]) -> None:
    provider = build(name)
    result = only_llm_errors(lambda: provider.map_error(WireResponse(status, headers, body), request_for(name)))
    assert isinstance(result, LLMError)


# -- streams ---------------------------------------------------------------------------------------
def run_stream(provider: Provider, name: str, events: List[Any]) -> None:
    parser = provider.stream_parser(request_for(name, stream=True))

    def feed_all() -> None:
        for event in events:
            parser.feed(event)
            if parser.done:
                break
        parser.close()

    only_llm_errors(feed_all)


def framing_of(provider: Provider, name: str) -> str:
    return provider.build_request(request_for(name, stream=True), now=T0).framing


def decode(framing: str, pieces: List[bytes]) -> List[Any]:
    """Bytes through the decoder the client would use for ``framing``."""
    if framing == "sse":
        sse = SSEDecoder()
        out: List[Any] = []
        for piece in pieces:
            out.extend(sse.feed(piece))
        out.extend(sse.close())
        return out
    if framing == "ndjson":
        ndjson = NDJSONDecoder()
        values: List[Any] = []
        for piece in pieces:
            values.extend(ndjson.feed(piece))
        values.extend(ndjson.close())
        return values
    if framing == "websocket":
        return [piece.decode("utf-8", "replace") for piece in pieces]
    raise AssertionError(f"a stream request framed as {framing!r}: no decoder")


@pytest.mark.parametrize("name", PROVIDERS)
@FUZZ
@given(data=ANY_BYTES, cuts=st.lists(st.integers(min_value=0, max_value=500), max_size=6))
def test_stream_bytes(name: str, data: bytes, cuts: List[int]) -> None:
    provider = build(name)
    framing = framing_of(provider, name)
    if framing == "sse":
        data = b"data: " + data.replace(b"\n\n", b"\ndata: ") + b"\n\n"
    events = only_llm_errors(lambda: decode(framing, split(data, cuts)))
    if isinstance(events, list):
        run_stream(provider, name, events)


@pytest.mark.parametrize("name", PROVIDERS)
@FUZZ
@given(values=st.lists(OBJECTS | JSON | st.just("[DONE]"), max_size=6),
       event_names=st.lists(st.sampled_from(["message", "error", "ping", ""]), max_size=6))
def test_stream_json_events(name: str, values: List[Any], event_names: List[str]) -> None:
    provider = build(name)
    framing = framing_of(provider, name)
    texts = [v if v == "[DONE]" else json.dumps(v) for v in values]
    events: List[Any]
    if framing == "sse":
        events = [SSEEvent(data=t, event=(event_names[i] if i < len(event_names) else "message") or "message")
                  for i, t in enumerate(texts)]
    elif framing == "ndjson":
        events = list(values)
    else:
        events = texts
    run_stream(provider, name, events)


# -- token exchanges --------------------------------------------------------------------------------
TOKEN_PROVIDERS = [n for n in PROVIDERS if build(n).token_request(now=T0) is not None]


@pytest.mark.skipif(not TOKEN_PROVIDERS, reason="no registered provider has a token exchange")
@pytest.mark.parametrize("name", TOKEN_PROVIDERS or ["-"])
@FUZZ
@given(body=ANY_BYTES | OBJECTS.map(lambda o: json.dumps(o).encode()))
def test_parse_token(name: str, body: bytes) -> None:
    provider = build(name)
    only_llm_errors(lambda: provider.parse_token(WireResponse(200, {}, body), now=T0))


# -- decoders and shared helpers on their own ----------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=8),
       max_line=st.integers(min_value=1, max_value=64) | st.just(8 * 1024 * 1024))
def test_sse_decoder(data: bytes, cuts: List[int], max_line: int) -> None:
    decoder = SSEDecoder(max_line_bytes=max_line)
    for piece in split(data, cuts):
        if isinstance(only_llm_errors(lambda: decoder.feed(piece)), LLMError):
            return
    only_llm_errors(decoder.close)


@FUZZ
@given(data=st.binary(max_size=600) | st.lists(JSON_BYTES, max_size=5).map(b"\n".join),
       cuts=st.lists(st.integers(min_value=0, max_value=700), max_size=8),
       max_line=st.integers(min_value=1, max_value=64) | st.just(8 * 1024 * 1024))
def test_ndjson_decoder(data: bytes, cuts: List[int], max_line: int) -> None:
    decoder = NDJSONDecoder(max_line_bytes=max_line)
    for piece in split(data, cuts):
        if isinstance(only_llm_errors(lambda: decoder.feed(piece)), LLMError):
            return
    only_llm_errors(decoder.close)


@FUZZ
@given(headers=HEADERS, now=st.none() | st.floats(allow_nan=True, allow_infinity=True))
def test_parse_retry_after_never_raises(headers: Dict[str, str], now: Optional[float]) -> None:
    value = parse_retry_after(headers, now=now)
    assert value is None or value >= 0


@FUZZ
@given(status=st.integers(min_value=0, max_value=1000), message=st.text(max_size=60),
       code=st.none() | st.text(max_size=20) | st.integers(), error_type=st.none() | st.text(max_size=20), headers=HEADERS)
def test_status_error_always_gives_an_llm_error(status: int, message: str, code: Any, error_type: Optional[str],
                                               headers: Dict[str, str]) -> None:
    assert isinstance(status_error(status, message, code=code, error_type=error_type, headers=headers), LLMError)
