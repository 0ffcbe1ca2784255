"""The client-side rate limiter as wired into the Client: presets, config, per-call choice."""

from __future__ import annotations

from typing import Any

import faults
import pytest

import llmplex
from llmplex import FixedClock, RetryPolicy
from llmplex.client.ratelimit import CLIENT_LIMIT_CODE

KEY = "sk-llmplex-CANARY-limits-0123456789"
HI = [{"role": "user", "content": "Hi"}]


def test_internlm_preset_defaults_to_30_requests_a_minute(http_server: Any) -> None:
    server = http_server(*[faults.completion(str(i)) for i in range(31)])
    clock = FixedClock(0)
    client = llmplex.Client({"providers": {"internlm": {"api_key": KEY, "base_url": server.url + "/api/v1"}}},
                            clock=clock, plugins=faults.plugins())
    for _ in range(31):
        client.chat("internlm/internlm3-latest", HI)
    assert clock.slept == [2.0]  # 30 at once (a minute's burst), the 31st waits for one slot
    assert server.pending == 0


def test_config_overrides_the_preset_and_fail_fast_never_sends(http_server: Any) -> None:
    server = http_server(faults.completion(), faults.completion())
    client = llmplex.Client(
        {"providers": {"internlm": {"api_key": KEY, "base_url": server.url + "/api/v1",
                                    "rate_limit": {"requests_per_minute": 1, "wait": False}}}},
        clock=FixedClock(0), plugins=faults.plugins(),
    )
    client.chat("internlm/internlm3-latest", HI)
    with pytest.raises(llmplex.RateLimitError) as info:
        client.chat("internlm/internlm3-latest", HI)
    error = info.value
    assert error.code == CLIENT_LIMIT_CODE and error.retry_after == pytest.approx(60.0)
    assert error.attempts == 1 and error.status is None and error.provider == "internlm"
    assert server.pending == 1 and len(server.received) == 1
    assert client.clock.slept == []  # type: ignore[attr-defined]


def test_per_call_choice_to_fail_fast(http_server: Any) -> None:
    server = http_server(faults.completion(), faults.completion())
    clock = FixedClock(0)
    client = llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1",
                                 "rate_limit": {"requests_per_minute": 1}}}},
        clock=clock, plugins=faults.plugins(),
    )
    client.chat("fault/m", HI)
    with pytest.raises(llmplex.RateLimitError):
        client.chat("fault/m", HI, rate_limit_wait=False)
    assert client.chat("fault/m", HI).text == "OK"  # waiting is the default
    assert clock.slept == [60.0]


def test_a_wait_longer_than_the_total_deadline_fails_fast(http_server: Any) -> None:
    server = http_server(faults.completion(), faults.completion())
    client = llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1",
                                 "rate_limit": {"requests_per_minute": 1}}}},
        clock=FixedClock(0), plugins=faults.plugins(),
    )
    client.chat("fault/m", HI)
    with pytest.raises(llmplex.RateLimitError):
        client.chat("fault/m", HI, total_timeout=10)
    assert client.clock.slept == []  # type: ignore[attr-defined]


def test_tokens_per_minute_uses_the_estimate_then_the_reported_usage(http_server: Any) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
    server = http_server(*[faults.completion(usage=usage) for _ in range(3)])
    clock = FixedClock(0)
    client = llmplex.Client(
        {"providers": {"fault": {"type": "openai-compatible", "api_key": KEY, "base_url": server.url + "/v1",
                                 "rate_limit": {"tokens_per_minute": 1000}}}},
        clock=clock, plugins=faults.plugins(), retry=RetryPolicy(max_retries=0),
    )
    prompt = [{"role": "user", "content": "x" * 400}]  # 100 tokens + max_tokens 800 = 900 estimated
    client.chat("fault/m", prompt, max_tokens=800)
    # Only 20 were used: 880 went back, so the next 900 fit at once.
    client.chat("fault/m", prompt, max_tokens=800)
    assert clock.slept == []
    # 960 left; 100 + 900 = 1000 needed: 40 short at 1000/60 tokens a second.
    client.chat("fault/m", prompt, max_tokens=900)
    assert clock.slept == [pytest.approx(2.4)]


def test_bad_rate_limit_config_fails_when_the_provider_is_first_used() -> None:
    client = llmplex.Client({"providers": {"internlm": {"api_key": KEY, "rate_limit": {"rpm": 3}}}},
                            plugins=faults.plugins())
    with pytest.raises(llmplex.ConfigError, match="unknown key"):
        client.provider("internlm")
