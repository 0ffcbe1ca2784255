"""Per-provider limits through the real Client, against loopback fault servers."""

from __future__ import annotations

import json
from typing import Any

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy, Timeouts
from llmplex.errors import MAX_RAW
from llmplex.transport.limits import Limits

KEY = "sk-llmplex-CANARY-limits-0123456789abcdef"
HI = [{"role": "user", "content": "Hi"}]
FAST = Timeouts(connect=1.0, read=2.0)


def make_client(server: Any, limits: Any = None, **config: Any) -> llmplex.Client:
    table = {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1"}
    if limits is not None:
        table["limits"] = limits
    return llmplex.Client({"providers": {"fault": table}, **config}, clock=FixedClock(0), plugins=faults.plugins(),
                          retry=RetryPolicy(rng=lambda: 0.0), timeouts=FAST)


def test_max_body_from_the_provider_table_refuses_a_bigger_reply(http_server: Any) -> None:
    big = json.dumps({"pad": "x" * 5000}).encode()
    server = http_server(faults.reply(200, big), faults.reply(200, big, chunked=True))
    client = make_client(server, {"max_body": 1024})
    for _ in range(2):  # announced by Content-Length, then only found while reading
        with pytest.raises(llmplex.ProtocolError, match="1024") as info:
            client.chat("fault/m", HI)
        assert info.value.attempts == 1


def test_max_event_from_the_provider_table_bounds_one_event_of_many_data_lines(http_server: Any) -> None:
    line = b"data: " + b"y" * 4000 + b"\n"
    server = http_server(faults.Step(headers={"Content-Type": "text/event-stream"}, pieces=[line] * 150 + [b"\n"]))
    client = make_client(server, {"max_event": 64 * 1024})
    with pytest.raises(llmplex.ProtocolError, match="stream event is larger than 65536 bytes") as info:
        list(client.stream("fault/m", HI))
    assert isinstance(info.value.raw, str) and len(info.value.raw) <= MAX_RAW


def test_the_default_limits_keep_a_huge_bad_event_out_of_the_errors_raw(http_server: Any) -> None:
    # 6 MiB of data that is not JSON, within the default limits: the provider refuses it, and
    # the error keeps 64 KiB of it, not 6 MiB (nor the 150 MiB of the original report).
    server = http_server(faults.Step(headers={"Content-Type": "text/event-stream"},
                                     pieces=[b"data: " + b"z" * (1024 * 1024) + b"\n"] * 6 + [b"\n"]))
    with pytest.raises(llmplex.ProtocolError) as info:
        list(make_client(server).stream("fault/m", HI))
    raw = info.value.raw
    assert raw is not None and 0 < len(raw) <= MAX_RAW


def test_max_line_from_the_provider_table(http_server: Any) -> None:
    server = http_server(faults.sse(["x" * 5000]))
    with pytest.raises(llmplex.ProtocolError, match="stream line is longer than 2048 bytes"):
        list(make_client(server, {"max_line": 2048}).stream("fault/m", HI))


def test_defaults_limits_apply_to_every_provider(http_server: Any) -> None:
    server = http_server(faults.sse(["x" * 5000]))
    client = make_client(server, None, defaults={"limits": {"max_line": 1000}})
    with pytest.raises(llmplex.ProtocolError, match="longer than 1000"):
        list(client.stream("fault/m", HI))


def test_a_providers_limits_win_over_defaults_key_by_key(http_server: Any) -> None:
    client = make_client(http_server(), {"max_event": 5000}, defaults={"limits": {"max_line": 1000, "max_event": 9}})
    client.provider("fault")
    assert client._limits["fault"] == Limits(max_line=1000, max_event=5000)
    assert make_client(http_server())._limits.get("fault") is None


def test_a_bad_defaults_limits_table_names_defaults(http_server: Any) -> None:
    client = make_client(http_server(), None, defaults={"limits": {"max_line": "big"}})
    with pytest.raises(llmplex.ConfigError) as info:
        client.provider("fault")
    assert info.value.field == "defaults.limits.max_line"


def test_a_bad_limits_table_is_refused_when_the_provider_is_resolved(http_server: Any) -> None:
    server = http_server()
    client = make_client(server, {"max_evnt": 10})
    with pytest.raises(llmplex.ConfigError) as info:
        client.chat("fault/m", HI)
    assert info.value.field == "providers.fault.limits.max_evnt" and "max_event" in info.value.message
    assert server.received == []


def test_max_frame_from_the_provider_table_bounds_websocket_messages(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "a" * 5000}, {"text": "", "end": True}]))
    client = llmplex.Client(
        {"providers": {"fakews": {"api_key": KEY, "base_url": server.url, "limits": {"max_frame": 1024}}}},
        plugins=faults.plugins(), retry=RetryPolicy(max_retries=0), timeouts=FAST,
    )
    with pytest.raises(llmplex.ProtocolError, match="exceeds the limit of 1024 bytes"):
        client.chat("fakews/m", HI)


def test_websocket_frames_within_the_limit_pass(ws_server: Any) -> None:
    server = ws_server(faults.ws_frames([{"text": "a" * 5000}, {"text": "", "end": True}]))
    client = llmplex.Client({"providers": {"fakews": {"api_key": KEY, "base_url": server.url}}},
                            plugins=faults.plugins(), timeouts=FAST)
    assert client.chat("fakews/m", HI).text == "a" * 5000
