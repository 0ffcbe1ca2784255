"""The client-side rate limiter under a simulated clock: many threads, a long simulated run, and
the token-bucket bound checked on every pair of grants. Nothing sleeps for real."""

from __future__ import annotations

import heapq
import random
import threading
from typing import Any, Callable, Dict, List, Tuple

import pytest

from llmplex import FixedClock
from llmplex.errors import ConfigError, RateLimitError
from llmplex.schema.messages import ImagePart, Message, TextPart
from llmplex.client.ratelimit import CLIENT_LIMIT_CODE, IMAGE_TOKENS, Limits, RateLimiter, TokenBucket, estimate_tokens
from llmplex.schema.request import ChatRequest
from llmplex.client.retry import should_retry_hint
from llmplex.schema.tools import Tool

EPS = 1e-6


class SimClock:
    """Virtual time shared by ``workers`` threads, a discrete-event simulation.

    ``sleep(d)`` blocks the caller until virtual time reaches ``now + d``; time advances only
    when every live worker is asleep, straight to the earliest wake-up. So a thread that wakes
    sees exactly the time it asked for, and a grant's time is exactly when it was scheduled,
    whatever the OS scheduler does.
    """

    def __init__(self, workers: int) -> None:
        self.t = 0.0
        self.cond = threading.Condition()
        self.active = workers
        self.wakes: List[float] = []
        self.slept: List[float] = []

    def now(self) -> float:
        with self.cond:
            return self.t

    monotonic = now

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self.cond:
            self.slept.append(seconds)
            wake = self.t + seconds
            heapq.heappush(self.wakes, wake)
            self._advance()
            while self.t < wake:
                self.cond.wait()
            self.wakes.remove(wake)
            heapq.heapify(self.wakes)

    def finished(self) -> None:
        with self.cond:
            self.active -= 1
            self._advance()

    def _advance(self) -> None:
        # Every live worker is asleep: nothing can happen before the earliest wake-up.
        pending = [w for w in self.wakes if w > self.t]
        if self.active and len(self.wakes) >= self.active and pending:
            self.t = min(pending)
            self.cond.notify_all()


def run_workers(clock: SimClock, workers: int, work: Callable[[int], None]) -> None:
    errors: List[BaseException] = []

    def body(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)
        finally:
            clock.finished()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(t.is_alive() for t in threads), "simulation deadlocked"
    if errors:
        raise errors[0]


def assert_bucket_bound(grants: List[Tuple[float, float]], capacity: float, per_minute: float) -> None:
    """Over every interval [t_i, t_j] the units granted are at most capacity + rate * (t_j - t_i)."""
    grants = sorted(grants)
    rate = per_minute / 60.0
    times = [t for t, _ in grants]
    prefix = [0.0]
    for _, amount in grants:
        prefix.append(prefix[-1] + min(amount, capacity))
    for i in range(len(grants)):
        for j in range(i, len(grants)):
            used = prefix[j + 1] - prefix[i]
            assert used <= capacity + rate * (times[j] - times[i]) + EPS, (i, j, used, times[i], times[j])


def sliding_window_max(times: List[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_concurrent_callers_never_exceed_the_bucket_over_a_long_run() -> None:
    workers, each = 16, 20
    clock = SimClock(workers)
    limiter = RateLimiter(clock)
    limiter.configure("internlm", {"requests_per_minute": 30})
    grants: List[float] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for _ in range(each):
            limiter.acquire("internlm", "internlm3-latest")
            with lock:
                grants.append(clock.monotonic())

    run_workers(clock, workers, work)
    assert len(grants) == workers * each
    assert_bucket_bound([(t, 1.0) for t in grants], capacity=30, per_minute=30)
    # A full minute's burst up front, then one every 2 s: the long-run rate is exactly 30/min,
    # and the limiter wastes no slot (the last grant is as early as the bound allows).
    assert sorted(grants)[29] == 0.0
    assert max(grants) == pytest.approx((workers * each - 30) * 2.0)
    assert sliding_window_max(grants, 60.0) <= 2 * 30


def test_burst_of_one_spaces_requests_evenly_so_no_minute_exceeds_the_limit() -> None:
    workers = 8
    clock = SimClock(workers)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"requests_per_minute": 30, "burst": 1})
    grants: List[float] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        for _ in range(25):
            limiter.acquire("p", "m")
            with lock:
                grants.append(clock.monotonic())

    run_workers(clock, workers, work)
    assert sorted(grants) == [2.0 * k for k in range(200)]
    assert sliding_window_max(grants, 60.0) == 30


def test_provider_model_and_token_limits_hold_together_under_concurrency() -> None:
    workers = 12
    clock = SimClock(workers)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"requests_per_minute": 60, "tokens_per_minute": 6000,
                            "models": {"small": {"requests_per_minute": 20}}})
    grants: Dict[str, List[Tuple[float, float]]] = {"all": [], "small": [], "tokens": []}
    lock = threading.Lock()

    def work(index: int) -> None:
        rng = random.Random(index)
        for _ in range(15):
            model = "small" if rng.random() < 0.5 else "big"
            tokens = rng.choice([10, 200, 1500, 9000])  # 9000 > capacity: waits for a full bucket
            limiter.acquire("p", model, tokens)
            now = clock.monotonic()
            with lock:
                grants["all"].append((now, 1.0))
                grants["tokens"].append((now, float(tokens)))
                if model == "small":
                    grants["small"].append((now, 1.0))

    run_workers(clock, workers, work)
    assert len(grants["all"]) == workers * 15
    assert_bucket_bound(grants["all"], capacity=60, per_minute=60)
    assert_bucket_bound(grants["small"], capacity=20, per_minute=20)
    assert_bucket_bound(grants["tokens"], capacity=6000, per_minute=6000)


def test_fail_fast_raises_without_taking_a_slot() -> None:
    clock = FixedClock(0)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"requests_per_minute": 2, "wait": False})
    assert limiter.acquire("p", "m") == 0.0 and limiter.acquire("p", "m") == 0.0
    with pytest.raises(RateLimitError) as info:
        limiter.acquire("p", "m")
    error = info.value
    assert error.code == CLIENT_LIMIT_CODE and error.retry_after == pytest.approx(30.0)
    assert (error.provider, error.model) == ("p", "m") and should_retry_hint(error) is False
    clock.advance(30.0)
    assert limiter.acquire("p", "m") == 0.0  # the refused call took nothing
    assert clock.slept == []


def test_waiting_is_the_callers_choice_per_call_and_max_wait_caps_it() -> None:
    clock = FixedClock(0)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"requests_per_minute": 1})
    limiter.acquire("p", "m")
    with pytest.raises(RateLimitError):
        limiter.acquire("p", "m", wait=False)
    with pytest.raises(RateLimitError):
        limiter.acquire("p", "m", max_wait=59.0)
    assert limiter.acquire("p", "m", max_wait=60.0) == 60.0
    assert clock.slept == [60.0]
    limiter.configure("q", {"requests_per_minute": 1, "max_wait": 10})
    limiter.acquire("q", "m")
    with pytest.raises(RateLimitError):
        limiter.acquire("q", "m")


def test_waiting_callers_are_served_first_come_first_served() -> None:
    clock = FixedClock(0)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"requests_per_minute": 60, "burst": 1})
    assert [limiter.acquire("p", "m") for _ in range(4)] == [0.0, 1.0, 1.0, 1.0]
    assert clock.current == 3.0


def test_settle_gives_back_unused_tokens_and_takes_overruns() -> None:
    clock = FixedClock(0)
    limiter = RateLimiter(clock)
    limiter.configure("p", {"tokens_per_minute": 1000})
    limiter.acquire("p", "m", 900)
    limiter.settle("p", "m", 900, 100)  # only 100 were used: 800 back
    assert limiter.acquire("p", "m", 900) == 0.0
    limiter.settle("p", "m", 900, 1000)  # 100 more than estimated: the bucket owes 100
    # 160 tokens short at 1000/60 tokens a second.
    assert limiter.acquire("p", "m", 60) == pytest.approx(9.6)


def test_unlimited_providers_pass_through() -> None:
    limiter = RateLimiter(FixedClock(0))
    assert not limiter.limited("p", "m")
    assert limiter.acquire("p", "m", 10**9) == 0.0


@pytest.mark.parametrize(
    "table",
    [
        {"requests_per_minute": 0},
        {"requests_per_minute": -5},
        {"tokens_per_minute": "lots"},
        {"requests_per_minute": True},
        {"requests_per_minute": float("inf")},
        {"wait": "yes"},
        {"burst": 0},
        {"rpm": 30},
        {"models": {"m": {"rpm": 1}}},
        {"models": ["m"]},
    ],
)
def test_bad_tables_are_config_errors(table: Dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        RateLimiter(FixedClock(0)).configure("p", table)


def test_limits_parse_defaults() -> None:
    assert Limits.parse({}, "x") == Limits(None, None, None, True, None)
    assert Limits.parse({"requests_per_minute": 30, "max_wait": 0}, "x").max_wait == 0.0


def test_token_bucket_never_grants_more_than_its_capacity_at_once() -> None:
    bucket = TokenBucket(100, 1.0, now=0.0)
    assert bucket.available_at(500, 0.0) == 0.0  # an oversized request waits for a full bucket only
    bucket.take(500, 0.0)
    assert bucket.level == 0.0 and bucket.available_at(50, 0.0) == 50.0


def test_token_estimate_is_prompt_chars_over_four_plus_max_tokens() -> None:
    request = ChatRequest(
        model="m",
        messages=[Message.system("x" * 10), Message.user([TextPart(text="y" * 7), ImagePart(url="https://e.x/a.png")])],
        max_tokens=100,
    )
    assert estimate_tokens(request) == (17 + 3) // 4 + IMAGE_TOKENS + 100
    tool = Tool(name="f", description="d", parameters={"type": "object"})
    with_tool = ChatRequest(model="m", messages=[Message.user("abcd")], tools=[tool])
    assert estimate_tokens(with_tool) == -(-(4 + 1 + 1 + len('{"type": "object"}')) // 4)
    assert estimate_tokens(ChatRequest(model="m", messages=[Message.user("")])) == 0


class FrozenClock(FixedClock):
    """Sleeping records but does not move time: every acquire happens at the same instant, as
    if all callers arrived together; the returned delays are their grant times."""

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_units_are_taken_at_the_grant_time_so_queued_callers_cannot_bunch_up() -> None:
    # One caller drains the tokens bucket; two small callers queue behind it. Were the request
    # slot taken at arrival rather than at the (later) grant, both would go out 0.1 s apart at
    # t=60, twice the 1-per-second request limit.
    limiter = RateLimiter(FrozenClock(0))
    limiter.configure("p", {"requests_per_minute": 60, "burst": 1, "tokens_per_minute": 600})
    grants = [limiter.acquire("p", "m", tokens) for tokens in (600, 600, 1)]
    assert grants == [0.0, 60.0, 61.0]
    assert_bucket_bound([(t, 1.0) for t in grants], capacity=1, per_minute=60)


def test_max_wait_is_capped_at_a_week_like_every_other_wait() -> None:
    assert Limits.parse({"max_wait": 7 * 24 * 3600}, "providers.p.rate_limit").max_wait == 604800.0
    for too_long in (7 * 24 * 3600 + 1, 1e300):
        with pytest.raises(ConfigError) as info:
            Limits.parse({"max_wait": too_long}, "providers.p.rate_limit")
        assert info.value.field == "providers.p.rate_limit.max_wait" and "(a week)" in str(info.value)
