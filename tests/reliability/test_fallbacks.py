"""Fallback chains across two loopback servers, the hooks' view of every attempt, and the one
structured log record per call."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, List, Optional

import faults
import pytest

import llmplex
from llmplex import ChatResponse, FixedClock, LLMError, RetryPolicy, Timeouts, hookimpl
from llmplex.client.observe import CallInfo

KEY_A = "sk-llmplex-CANARY-primary-0123456789"
KEY_B = "sk-llmplex-CANARY-backup-9876543210"
HI = [{"role": "user", "content": "Hi"}]
EXACT = RetryPolicy(rng=lambda: 0.0)
UNAVAILABLE = {"error": {"message": "overloaded", "type": "server_error"}}


@dataclass
class Seen:
    hook: str
    provider: str
    model: str
    attempt: int
    position: int
    error: Optional[str] = None
    delay: Optional[float] = None


class Recorder:
    def __init__(self) -> None:
        self.seen: List[Seen] = []

    @hookimpl
    def llmplex_before_request(self, call: CallInfo) -> None:
        assert call.wire is not None and KEY_A not in str(call.wire) and KEY_B not in str(call.wire)
        self.seen.append(Seen("before", call.provider, call.model, call.attempt, call.position))

    @hookimpl
    def llmplex_on_error(self, call: CallInfo, error: LLMError) -> None:
        self.seen.append(Seen("error", call.provider, call.model, call.attempt, call.position, type(error).__name__))

    @hookimpl
    def llmplex_on_retry(self, call: CallInfo, error: LLMError, delay: float) -> None:
        self.seen.append(Seen("retry", call.provider, call.model, call.attempt, call.position, delay=delay))

    @hookimpl
    def llmplex_after_response(self, call: CallInfo, response: ChatResponse) -> None:
        self.seen.append(Seen("after", call.provider, call.model, call.attempt, call.position))


def make_client(a: Any, b: Any, recorder: Recorder, *, retries_a: Optional[int] = None,
                retry: RetryPolicy = EXACT, **defaults: Any) -> llmplex.Client:
    primary = {"type": "openai-compatible", "api_key": KEY_A, "base_url": a.url + "/v1"}
    if retries_a is not None:
        primary["max_retries"] = retries_a
    return llmplex.Client(
        {
            "providers": {"primary": primary,
                          "backup": {"type": "openai-compatible", "api_key": KEY_B, "base_url": b.url + "/v1"}},
            "models": {"robust": ["primary/big-model", "backup/small-model"]},
            **({"defaults": defaults} if defaults else {}),
        },
        clock=FixedClock(1_700_000_000),
        plugins=faults.plugins(recorder),
        retry=retry,
        timeouts=Timeouts(connect=1, read=2),
    )


def trace(recorder: Recorder) -> List[tuple]:
    return [(s.hook, s.provider, s.attempt) for s in recorder.seen]


def test_server_errors_exhaust_the_primary_then_the_backup_answers(http_server: Any) -> None:
    a = http_server(*[faults.json_reply(503, UNAVAILABLE) for _ in range(3)])
    b = http_server(faults.completion("from backup", model="small-model-v2"))
    recorder = Recorder()
    client = make_client(a, b, recorder)
    reply = client.chat("robust", HI)
    assert (reply.text, reply.provider, reply.model, reply.attempts) == ("from backup", "backup", "small-model-v2", 1)
    assert trace(recorder) == [
        ("before", "primary", 1), ("error", "primary", 1), ("retry", "primary", 1),
        ("before", "primary", 2), ("error", "primary", 2), ("retry", "primary", 2),
        ("before", "primary", 3), ("error", "primary", 3),
        ("before", "backup", 1), ("after", "backup", 1),
    ]
    assert [s.position for s in recorder.seen] == [0] * 8 + [1, 1]
    assert client.clock.slept == [0.5, 1.0]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "failure",
    [
        faults.json_reply(429, {"error": {"message": "slow down", "type": "rate_limit_error"}}),
        faults.json_reply(500, UNAVAILABLE),
        faults.hang_up(),
    ],
    ids=["rate-limit", "server-error", "connection"],
)
def test_each_fallback_trigger_moves_on_at_once_without_retries(http_server: Any, failure: Any) -> None:
    a = http_server(failure)
    b = http_server(faults.completion("backup"))
    recorder = Recorder()
    reply = make_client(a, b, recorder, retries_a=0).chat("robust", HI)
    assert reply.provider == "backup"
    assert [s.hook for s in recorder.seen] == ["before", "error", "before", "after"]


def test_timeout_falls_back(http_server: Any) -> None:
    a = http_server(faults.stall_before_headers(5))
    b = http_server(faults.completion("backup"))
    recorder = Recorder()
    client = make_client(a, b, recorder, retries_a=0)
    reply = client.chat("robust", HI, timeout=0.25)
    assert reply.provider == "backup"
    assert recorder.seen[1].error == "TimeoutError"


def test_a_caller_error_does_not_fall_back(http_server: Any) -> None:
    a = http_server(faults.json_reply(400, {"error": {"message": "bad request", "type": "invalid_request_error"}}))
    b = http_server(faults.completion("backup"))
    with pytest.raises(llmplex.InvalidRequestError) as info:
        make_client(a, b, Recorder()).chat("robust", HI)
    assert info.value.provider == "primary" and b.pending == 1


def test_when_every_entry_fails_the_last_error_is_raised(http_server: Any) -> None:
    a = http_server(faults.json_reply(503, UNAVAILABLE))
    b = http_server(faults.json_reply(502, UNAVAILABLE, {"x-request-id": "req-b"}))
    with pytest.raises(llmplex.ServerError) as info:
        make_client(a, b, Recorder(), retry=EXACT.replace(max_retries=0)).chat("robust", HI)
    assert (info.value.provider, info.value.model, info.value.status, info.value.request_id) == (
        "backup", "small-model", 502, "req-b")


def test_a_stream_falls_back_before_its_first_chunk_but_never_after(http_server: Any) -> None:
    a = http_server(faults.json_reply(503, UNAVAILABLE))
    b = http_server(faults.sse(["from ", "backup"]))
    stream = make_client(a, b, Recorder(), retries_a=0).stream("robust", HI)
    assert "".join(c.text for c in stream) == "from backup"
    assert stream.response is not None and stream.response.provider == "backup"

    a = http_server(faults.sse(["half"], done=False, end="close"))
    b = http_server(faults.sse(["never"]))
    with pytest.raises(llmplex.StreamInterruptedError) as info:
        list(make_client(a, b, Recorder(), retries_a=0).stream("robust", HI))
    assert info.value.provider == "primary" and info.value.partial is not None
    assert info.value.partial.text == "half" and b.pending == 1


def test_client_side_fail_fast_rate_limit_falls_back_without_sending(http_server: Any) -> None:
    a = http_server(faults.completion("primary"), faults.completion("never"))
    b = http_server(faults.completion("backup"))
    client = llmplex.Client(
        {
            "providers": {
                "primary": {"type": "openai-compatible", "api_key": KEY_A, "base_url": a.url + "/v1",
                            "rate_limit": {"requests_per_minute": 1, "wait": False}},
                "backup": {"type": "openai-compatible", "api_key": KEY_B, "base_url": b.url + "/v1"},
            },
            "models": {"robust": ["primary/m", "backup/m"]},
        },
        clock=FixedClock(0), plugins=faults.plugins(), retry=EXACT,
    )
    assert client.chat("robust", HI).provider == "primary"
    assert client.chat("robust", HI).provider == "backup"
    assert a.pending == 1 and client.clock.slept == []  # type: ignore[attr-defined]


# -- logging ---------------------------------------------------------------------------------------
def test_one_structured_record_per_call(http_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    a = http_server(faults.json_reply(503, UNAVAILABLE), faults.json_reply(503, UNAVAILABLE))
    b = http_server(faults.completion("hi", usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}))
    client = make_client(a, b, Recorder(), retries_a=1)
    caplog.set_level(logging.DEBUG)
    client.chat("robust", HI)
    records = [r for r in caplog.records if r.name == "llmplex"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    fields = records[0].llmplex  # type: ignore[attr-defined]
    assert fields["provider"] == "backup" and fields["model"] == "small-model" and fields["requested"] == "robust"
    assert (fields["attempts"], fields["retries"], fields["fallbacks"], fields["status"]) == (1, 0, 1, "ok")
    assert (fields["prompt_tokens"], fields["completion_tokens"], fields["total_tokens"]) == (7, 3, 10)
    assert fields["latency_ms"] == 500.0  # the backoff of the FixedClock, nothing real
    retries = [r for r in caplog.records if r.name == "llmplex.client.retry"]
    assert len(retries) == 1 and retries[0].levelno == logging.DEBUG


def test_a_failed_call_logs_one_warning_with_status_and_retries(http_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    a = http_server(*[faults.json_reply(429, {"error": {"message": "slow", "code": "rate_limit_exceeded"}},
                                        {"retry-after": "1", "x-request-id": "req-9"}) for _ in range(3)])
    client = llmplex.Client({"providers": {"primary": {"type": "openai-compatible", "api_key": KEY_A,
                                                       "base_url": a.url + "/v1"}}},
                            clock=FixedClock(0), plugins=faults.plugins(), retry=EXACT)
    caplog.set_level(logging.INFO, logger="llmplex")
    with pytest.raises(llmplex.RateLimitError):
        client.chat("primary/m", HI)
    records = [r for r in caplog.records if r.name == "llmplex"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    fields = records[0].llmplex  # type: ignore[attr-defined]
    assert (fields["status"], fields["http_status"], fields["attempts"], fields["retries"]) == ("RateLimitError", 429, 3, 2)
    assert (fields["error_code"], fields["request_id"]) == ("rate_limit_exceeded", "req-9")
    assert KEY_A not in records[0].getMessage()
