"""WebSocket failure modes through ``WebSocketTransport``, with the minimal ``fakews`` provider.

The provider (``faults.FakeWS``) is independent of the Spark provider: these tests pin the
transport's and the client's behaviour, not a vendor's protocol.
"""

from __future__ import annotations

import json
from typing import Any

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.provider.contract import WireRequest
from llmplex.transport.websocket import HandshakeRejected, WebSocketTransport

KEY = "sk-llmplex-CANARY-ws-0123456789abcdef"
HI = [{"role": "user", "content": "Hi"}]
EXACT = RetryPolicy(rng=lambda: 0.0)
STALL = 0.25


def make_client(server: Any, *, retry: RetryPolicy = EXACT, read: float = 2.0) -> llmplex.Client:
    return llmplex.Client(
        {"providers": {"fakews": {"api_key": KEY, "base_url": server.url}}},
        clock=FixedClock(1_700_000_000),
        plugins=faults.plugins(),
        retry=retry,
        timeouts=Timeouts(connect=1.0, read=read),
    )


def slept(client: llmplex.Client) -> Any:
    return client.clock.slept  # type: ignore[attr-defined]


def test_stream_over_websocket_succeeds(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "Bon"}, {"text": "jour", "end": True}]))
    client = make_client(server)
    stream = client.stream("fakews/m1", HI)
    assert [c.text for c in stream] == ["Bon", "jour"]
    assert stream.response is not None and stream.response.text == "Bonjour"
    assert json.loads(server.received[0]["first_frame"]) == {"model": "m1", "prompt": "Hi"}


def test_chat_over_a_stream_only_provider_assembles_the_reply(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "a"}, {"text": "b", "end": True}]))
    reply = make_client(server).chat("fakews/m1", HI)
    assert (reply.text, reply.finish_reason, reply.attempts) == ("ab", "stop", 1)


def test_handshake_403_is_permission_denied_and_not_retried(ws_server: Any) -> None:
    server = ws_server(faults.ws_reject(403, '{"message": "HMAC signature does not match"}'), faults.ws_frames([]))
    client = make_client(server)
    with pytest.raises(llmplex.PermissionDeniedError) as info:
        list(client.stream("fakews/m1", HI))
    error = info.value
    assert type(error) is llmplex.PermissionDeniedError
    assert (error.status, error.attempts, error.provider) == (403, 1, "fakews")
    assert "HMAC signature does not match" in str(error) and error.partial is None
    assert slept(client) == []


def test_handshake_503_is_retried(ws_server: Any) -> None:
    server = ws_server(faults.ws_reject(503, "busy"), faults.ws_frames([{"text": "up", "end": True}]))
    client = make_client(server)
    assert client.chat("fakews/m1", HI).text == "up"
    assert slept(client) == [0.5]


def test_stall_before_first_frame_is_a_timeout_retried_then_raised(ws_server: Any) -> None:
    server = ws_server(faults.ws_stall_before_first(5), faults.ws_stall_before_first(5))
    client = make_client(server, retry=EXACT.replace(max_retries=1), read=STALL)
    with pytest.raises(llmplex.TimeoutError) as info:
        list(client.stream("fakews/m1", HI))
    assert type(info.value) is llmplex.TimeoutError
    assert info.value.attempts == 2 and info.value.partial is None
    assert slept(client) == [0.5]


def test_stall_mid_stream_is_a_timeout_with_partial(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "half"}], end="stall", stall=5))
    client = make_client(server, read=STALL)
    with pytest.raises(llmplex.TimeoutError) as info:
        list(client.stream("fakews/m1", HI))
    assert info.value.attempts == 1 and slept(client) == []
    assert info.value.partial is not None and info.value.partial.text == "half"


def test_close_1011_mid_stream_is_interrupted_with_partial_and_not_retried(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "Hel"}, {"text": "lo"}], end="code", code=1011),
                       faults.ws_frames([{"text": "never", "end": True}]))
    client = make_client(server)
    seen = []
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        for chunk in client.stream("fakews/m1", HI):
            seen.append(chunk.text)
    error = info.value
    assert type(error) is llmplex.StreamInterruptedError
    assert "1011" in str(error) and error.attempts == 1 and slept(client) == []
    assert error.partial is not None and error.partial.text == "Hello" == "".join(seen)
    assert len(server.steps) == 1  # no second connection


def test_close_1011_before_any_frame_is_retried(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([], end="code", code=1011), faults.ws_frames([{"text": "ok", "end": True}]))
    client = make_client(server)
    assert client.chat("fakews/m1", HI).text == "ok"
    assert slept(client) == [0.5]


def test_normal_close_before_the_end_frame_is_interrupted(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "so far"}]))
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        list(make_client(server).stream("fakews/m1", HI))
    assert info.value.partial is not None and info.value.partial.text == "so far"


def test_invalid_utf8_binary_frame_is_a_protocol_error(ws_server: Any) -> None:
    server = ws_server(faults.ws_binary(b'{"text": "\xff"}'))
    client = make_client(server)
    with pytest.raises(llmplex.ProtocolError) as info:
        list(client.stream("fakews/m1", HI))
    assert info.value.attempts == 1 and slept(client) == []


def test_in_band_rate_limit_frame_is_retried(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"error": {"status": 429, "message": "slow down"}}]),
                       faults.ws_frames([{"text": "ok", "end": True}]))
    client = make_client(server)
    assert client.chat("fakews/m1", HI).attempts == 2
    assert slept(client) == [0.5]


def test_transport_alone_reports_handshake_and_frames(ws_server: Any) -> None:
    server = ws_server(faults.ws_reject(401, "nope"), faults.ws_frames(["one", "two"]))
    transport = WebSocketTransport()
    wire = WireRequest("GET", server.url + "/x", {}, b"hello", framing="websocket")
    with pytest.raises(HandshakeRejected) as info:
        with transport.open(wire, Timeouts(connect=1, read=1)):
            pass
    assert info.value.response.status == 401 and info.value.response.body == b"nope"
    with transport.open(wire, Timeouts(connect=1, read=1)) as frames:
        assert list(frames) == ["one", "two"]


def test_transport_open_timeout_and_refused_connection() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    wire = WireRequest("GET", f"ws://127.0.0.1:{port}/x", {}, None, framing="websocket")
    with pytest.raises(llmplex.ConnectionError):
        with WebSocketTransport().open(wire, Timeouts(connect=0.3, read=1)):
            pass
    # A listener that never answers the upgrade: the open timeout covers the handshake.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        wire = WireRequest("GET", f"ws://127.0.0.1:{silent.getsockname()[1]}/x", {}, None, framing="websocket")
        with pytest.raises(llmplex.TimeoutError):
            with WebSocketTransport().open(wire, Timeouts(connect=0.2, read=1)):
                pass
