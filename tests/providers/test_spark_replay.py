"""Spark end to end: the real ``Client`` against a local WebSocket server playing Spark.

The server (``llmplex.testing.replay_ws``) checks the HMAC signature in the URL with the secret, rejects a
stale or future date and a wrong signature during the upgrade as iFlytek's gateway does, records
the client's first frame, then replays a frame log from cassettes/spark/.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

from llmplex import Client, FixedClock, SystemClock
from llmplex.clock import Clock
from llmplex.errors import (
    AuthenticationError,
    ContentFilterError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    StreamInterruptedError,
    TimeoutError,
)
from llmplex.testing.replay import cassette_path
from llmplex.testing.replay_ws import FrameLog, WebSocketReplayServer, load_frame_log, parse_frame_log, spark_verifier
from llmplex.client.retry import RetryPolicy
from llmplex.signing.spark import REJECT_BAD_DATE, REJECT_CANNOT_VERIFY, REJECT_SIGNATURE_MISMATCH
from llmplex.transport.http import Timeouts

CASSETTES = Path(__file__).resolve().parent.parent.parent / "cassettes" / "spark"

APP_ID = "EXAMPLEAPPID"
API_KEY = "EXAMPLEapikey0123456789abcdef012"
API_SECRET = "EXAMPLEapisecret0123456789abcdef"
HI = [{"role": "user", "content": "你好"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询天气",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


def log(name: str) -> FrameLog:
    return load_frame_log(CASSETTES / f"{name}.jsonl")


@contextmanager
def spark(*names: str, **options: Any) -> Iterator[WebSocketReplayServer]:
    """A server playing the named frame logs, connection by connection, behind Spark's auth check."""
    verifier = spark_verifier(api_key=API_KEY, api_secret=API_SECRET)
    with WebSocketReplayServer([log(n) for n in names], verify=verifier, **options) as server:
        yield server


def client_for(
    server: WebSocketReplayServer,
    *,
    clock: Optional[Clock] = None,
    api_key: str = API_KEY,
    api_secret: str = API_SECRET,
    max_retries: int = 0,
    **kwargs: Any,
) -> Client:
    config: Dict[str, Any] = {
        "providers": {
            "spark": {"app_id": APP_ID, "api_key": api_key, "api_secret": api_secret, "url": server.url},
        },
        "defaults": {"max_retries": max_retries},
    }
    return Client(config, clock=clock or SystemClock(), **kwargs)


# --- answers ----------------------------------------------------------------------------------


def test_plain_answer() -> None:
    with spark("plain_answer") as server:
        response = client_for(server).chat("spark/4.0Ultra", HI, temperature=0.5)
    assert response.text == "我可以帮助你的吗？"
    assert response.id == "cht000cb087@dx18793cd421fb894542"
    assert (response.provider, response.model, response.finish_reason) == ("spark", "4.0Ultra", "stop")
    assert response.usage is not None and response.usage.total_tokens == 14
    # The server saw a signed URL on the log's path and exactly the frame prepare() builds.
    assert server.requests[0].startswith("/v4.0/chat?authorization=")
    assert json.loads(server.received[0]) == {
        "header": {"app_id": APP_ID},
        "parameter": {"chat": {"domain": "4.0Ultra", "temperature": 0.5}},
        "payload": {"message": {"text": [{"role": "user", "content": "你好"}]}},
    }


def test_streamed_answer() -> None:
    with spark("streamed_answer") as server:
        stream = client_for(server).stream("spark/4.0Ultra", HI)
        chunks = list(stream)
    assert [c.text for c in chunks] == ["你好！", "我是讯飞星火认知大模型，", "很高兴为你服务。", "有什么可以帮你的吗？"]
    assert [c.finish_reason for c in chunks] == [None, None, None, "stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 21
    assert stream.response is not None and stream.response.text == log("streamed_answer").metadata["text"]


def test_chat_assembles_a_streamed_answer() -> None:
    with spark("streamed_answer") as server:
        response = client_for(server).chat("spark/4.0Ultra", HI)
    assert response.text == log("streamed_answer").metadata["text"]
    assert len(response.raw) == 4  # every frame, parsed


def test_usage_frame() -> None:
    with spark("usage_frame") as server:
        response = client_for(server).chat("spark/max", HI)
    assert response.text == "1+1=2。"
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens, response.usage.total_tokens) == (5, 4, 9)


def test_web_search_sources_frame_is_kept_raw_and_adds_no_text() -> None:
    with spark("web_search_sources") as server:
        chunks = list(client_for(server).stream("spark/4.0Ultra", HI, extra={"show_ref_label": True}))
    assert [c.text for c in chunks] == ["", "合肥今天晴。"]
    assert chunks[0].raw["payload"]["plugins"]["text"][0]["name"] == "ifly_search"
    assert json.loads(server.received[0])["parameter"]["chat"]["show_ref_label"] is True


def test_function_call_gives_a_tool_call_with_parsed_arguments_and_stable_id() -> None:
    with spark("function_call", "function_call") as server:
        client = client_for(server)
        first = client.chat("spark/max", [{"role": "user", "content": "合肥今天天气怎么样？"}], tools=[WEATHER])
        again = client.chat("spark/max", [{"role": "user", "content": "合肥今天天气怎么样？"}], tools=[WEATHER])
    assert first.finish_reason == "tool_calls"
    [call] = first.tool_calls
    assert (call.name, call.arguments) == ("天气查询", {"datetime": "今天", "location": "合肥"})
    assert call.id == again.tool_calls[0].id == "call_cht000b41d5_dx18b851e6931b894550_0_0"
    sent = json.loads(server.received[0])
    assert sent["payload"]["functions"] == {"text": [WEATHER["function"]]}
    assert sent["parameter"]["chat"]["domain"] == "generalv3.5"


# --- errors -----------------------------------------------------------------------------------


def test_error_code_frame_is_a_content_filter_error_and_not_retried() -> None:
    with spark("error_content_filter") as server:
        with pytest.raises(ContentFilterError) as info:
            client_for(server, max_retries=2).chat("spark/4.0Ultra", HI)
    error = info.value
    assert (error.code, error.provider, error.model, error.attempts) == (10013, "spark", "4.0Ultra", 1)
    assert error.request_id == "cht000cb087@dx18793cd421fb894542"
    assert "input failed moderation" in error.message
    assert len(server.requests) == 1


def test_rate_limit_code_is_retried_on_a_fresh_connection() -> None:
    with spark("error_rate_limit", "plain_answer") as server:
        client = client_for(server, max_retries=2, retry=RetryPolicy(initial_delay=0.01))
        response = client.chat("spark/4.0Ultra", HI)
    assert response.text == "我可以帮助你的吗？" and response.attempts == 2
    assert len(server.requests) == 2 and len(server.received) == 2
    with spark("error_rate_limit") as server:
        with pytest.raises(RateLimitError) as info:
            client_for(server).chat("spark/4.0Ultra", HI)
    assert info.value.code == 11202


@pytest.mark.parametrize("skew", [-3600.0, 3600.0], ids=["stale", "future"])
def test_a_stale_or_future_date_is_refused_at_the_upgrade(skew: float) -> None:
    with spark("plain_answer") as server:
        with pytest.raises(AuthenticationError) as info:
            client_for(server, clock=FixedClock(time.time() + skew), max_retries=2).chat("spark/4.0Ultra", HI)
    error = info.value
    assert error.status == 403 and REJECT_BAD_DATE in error.message and "clock" in error.message
    assert error.raw == json.dumps({"message": REJECT_BAD_DATE}, separators=(",", ":")).encode()
    assert server.received == [] and [r.status for r in server.rejected] == [403]


def test_a_date_within_300_seconds_is_accepted() -> None:
    with spark("plain_answer") as server:
        response = client_for(server, clock=FixedClock(time.time() - 240)).chat("spark/4.0Ultra", HI)
    assert response.text == "我可以帮助你的吗？"


@pytest.mark.parametrize(
    "credentials, reason",
    [
        ({"api_secret": "EXAMPLEwrongsecret0123456789abcd"}, REJECT_SIGNATURE_MISMATCH),
        ({"api_key": "EXAMPLEwrongkey0123456789abcdef0"}, REJECT_CANNOT_VERIFY),
    ],
    ids=["wrong-signature", "wrong-key"],
)
def test_a_wrong_signature_is_refused_with_the_gateways_message(credentials: Dict[str, str], reason: str) -> None:
    with spark("plain_answer") as server:
        client = client_for(
            server,
            api_key=credentials.get("api_key", API_KEY),
            api_secret=credentials.get("api_secret", API_SECRET),
        )
        with pytest.raises(AuthenticationError) as info:
            client.chat("spark/4.0Ultra", HI)
    error = info.value
    assert error.status == 401 and f"spark: {reason} (HTTP 401" in error.message
    shown = str(error) + repr(error.raw)
    for secret in (API_KEY, API_SECRET, *credentials.values()):
        assert secret not in shown
    assert server.received == []


def test_early_close_raises_with_exactly_the_text_received() -> None:
    expected = log("early_close").metadata["text"]
    with spark("early_close") as server:
        received: List[str] = []
        with pytest.raises(StreamInterruptedError) as info:
            for chunk in client_for(server).stream("spark/4.0Ultra", HI):
                received.append(chunk.text)
    assert "".join(received) == expected
    assert info.value.partial is not None and info.value.partial.text == expected
    assert info.value.request_id == "cht000cb087@dx18793cd421fb894542"


def test_early_close_in_chat_keeps_the_partial() -> None:
    with spark("early_close") as server:
        with pytest.raises(StreamInterruptedError) as info:
            client_for(server).chat("spark/4.0Ultra", HI)
    assert info.value.partial is not None and info.value.partial.text == log("early_close").metadata["text"]


def test_abnormal_close_code_raises_with_the_partial() -> None:
    with spark("abnormal_close") as server:
        with pytest.raises(StreamInterruptedError) as info:
            client_for(server).chat("spark/4.0Ultra", HI)
    assert "1011" in info.value.message
    assert info.value.partial is not None and info.value.partial.text == "你好！"


# --- timeouts ---------------------------------------------------------------------------------


def test_receive_timeout_on_a_stalled_stream() -> None:
    started = time.monotonic()
    with spark("stall") as server:
        with pytest.raises(TimeoutError) as info:
            client_for(server).chat("spark/4.0Ultra", HI, timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert info.value.partial is not None and info.value.partial.text == "你好！"


def test_total_timeout_on_a_slow_but_flowing_stream() -> None:
    started = time.monotonic()
    with spark("slow_stream") as server:
        client = client_for(server, timeouts=Timeouts(connect=2.0, read=2.0, total=0.3))
        with pytest.raises(TimeoutError, match="total deadline"):
            client.chat("spark/4.0Ultra", HI)
    assert time.monotonic() - started < 1.5


def test_open_timeout_on_a_stalled_handshake() -> None:
    started = time.monotonic()
    with spark("plain_answer", handshake_delay=5.0) as server:
        client = client_for(server, timeouts=Timeouts(connect=0.2, read=2.0))
        with pytest.raises(TimeoutError, match="cannot open a WebSocket to .* within 0.2 s"):
            client.chat("spark/4.0Ultra", HI)
    assert time.monotonic() - started < 1.5


# --- the replay server itself -----------------------------------------------------------------


def test_frame_logs_ship_as_package_data() -> None:
    shipped = load_frame_log(cassette_path("spark/plain_answer.jsonl"))
    assert shipped.path == "/v4.0/chat" and len(shipped.frames) == 1
    for path in sorted(CASSETTES.glob("*.jsonl")):
        frame_log = load_frame_log(path)
        assert frame_log.metadata["source"] and frame_log.path.startswith("/")


def test_a_malformed_frame_reaches_the_client_as_a_protocol_error() -> None:
    broken = parse_frame_log('{"metadata": {"source": "test", "path": "/v4.0/chat"}}\n{"send_text": "{not json"}\n')
    with WebSocketReplayServer(broken) as server:
        with pytest.raises(ProtocolError) as info:
            client_for(server).chat("spark/4.0Ultra", HI)
    assert info.value.raw == "{not json"


def test_a_path_without_a_log_is_refused_with_404() -> None:
    with spark("plain_answer") as server:
        config = {"providers": {"spark": {"app_id": APP_ID, "api_key": API_KEY, "api_secret": API_SECRET,
                                          "base_url": f"ws://127.0.0.1:{server.port}"}}}
        with pytest.raises(NotFoundError, match="no frame log for /v3.5/chat"):
            Client(config).chat("spark/max", HI)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty frame log"),
        ('{"send": {}}\n', "line 1 must be"),
        ('{"metadata": {}}\n{"sleep": -1}\n', ":2: unknown step"),
        ('{"metadata": {}}\n{"close": true, "send": 1}\n', ":2: unknown step"),
        ('{"metadata": {}}\nnope\n', ":2: not JSON"),
    ],
)
def test_frame_log_format_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_frame_log(text)


def test_frame_log_steps() -> None:
    parsed = parse_frame_log(
        '{"metadata": {"path": "/x"}}\n{"send": {"a": "é"}}\n{"sleep": 0.5}\n{"close_code": 1011, "reason": "r"}\n{"close": true}\n'
    )
    assert [(s.kind, s.text, s.seconds, s.code, s.reason) for s in parsed.steps] == [
        ("send", '{"a":"é"}', 0.0, 1000, ""),
        ("sleep", "", 0.5, 1000, ""),
        ("close", "", 0.0, 1011, "r"),
        ("close", "", 0.0, 1000, ""),
    ]
    assert parsed.path == "/x" and parsed.frames == ['{"a":"é"}']
