"""The retry policy and Retry-After parsing as pure tables (no I/O, no sleeping).

The first table is openai-python's ``test_parse_retry_after_header`` (``tests/test_client.py``,
now = 1696004797, ``max_retries=3``) with llmplex's exact delays (``rng`` pinned to 0, so no
jitter) and one deliberate difference, the OpenAI 3.x rule: a Retry-After above 120 s is not
waited out (``None``: raise now with ``retry_after`` set) instead of falling back to backoff.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import pytest

from llmplex import FixedClock, RetryPolicy
from llmplex.provider.error_mapping import parse_retry_after, status_error
from llmplex.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionError,
    ContextLengthError,
    InvalidRequestError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    TimeoutError,
)
from llmplex.client.retry import (
    DEFAULT_MAX_RETRIES,
    INITIAL_DELAY,
    JITTER,
    MAX_DELAY,
    MAX_RETRY_AFTER,
    Deadline,
    server_says_retry,
    set_should_retry,
    should_retry_hint,
)

NOW = 1696004797.0
NO_JITTER = RetryPolicy(max_retries=3, rng=lambda: 0.0)


def delay_for(retry_after_header: str, attempt: int = 1) -> Optional[float]:
    error = RateLimitError("x", retry_after=parse_retry_after({"retry-after": retry_after_header}, now=NOW))
    return NO_JITTER.delay(error, attempt)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("20", 20.0),
        ("0", 0.5),
        ("-10", 0.5),
        ("60", 60.0),
        ("61", 61.0),
        ("120", 120.0),
        ("121", None),
        ("Fri, 29 Sep 2023 16:26:57 GMT", 20.0),
        ("Fri, 29 Sep 2023 16:26:37 GMT", 0.5),
        ("Fri, 29 Sep 2023 16:26:27 GMT", 0.5),
        ("Fri, 29 Sep 2023 16:27:37 GMT", 60.0),
        ("Fri, 29 Sep 2023 16:27:38 GMT", 61.0),
        ("Fri, 29 Sep 2023 16:28:37 GMT", 120.0),
        ("Fri, 29 Sep 2023 16:28:38 GMT", None),
        ("inf", 0.5),
        ("nan", 0.5),
        ("1e999", None),
        ("Zun, 29 Sep 2023 16:26:27 GMT", 0.5),
        ("Fri, 29 Sep 100000 16:26:57 GMT", 0.5),
        ("", 0.5),
        ("1.5", 1.5),
        ("soon", 0.5),
    ],
)
def test_openai_retry_after_table(header: str, expected: Optional[float]) -> None:
    assert delay_for(header) == expected


@pytest.mark.parametrize(("attempt", "expected"), [(1, 0.5), (2, 1.0), (3, 2.0)])
def test_backoff_doubles_per_attempt(attempt: int, expected: float) -> None:
    assert NO_JITTER.delay(ServerError("x"), attempt) == expected


def test_backoff_is_capped_at_eight_seconds_even_after_very_many_retries() -> None:
    assert NO_JITTER.backoff(4) == 8.0
    assert NO_JITTER.backoff(1100) == 8.0
    assert RetryPolicy(max_retries=10_000, rng=lambda: 0.0).delay(ServerError("x"), 5000) == 8.0


def test_jitter_shortens_by_at_most_a_quarter() -> None:
    assert RetryPolicy(rng=lambda: 0.999999).delay(ServerError("x"), 1) == pytest.approx(0.375, abs=1e-6)
    assert RetryPolicy(rng=lambda: 0.5).delay(ServerError("x"), 2) == pytest.approx(0.875)
    # A server-directed wait is used verbatim, without jitter.
    assert RetryPolicy(rng=lambda: 0.999).delay(RateLimitError("x", retry_after=3.0), 1) == 3.0


def test_defaults_match_the_openai_sdk() -> None:
    policy = RetryPolicy()
    assert (policy.max_retries, policy.initial_delay, policy.max_delay, policy.max_retry_after, policy.jitter) == (
        DEFAULT_MAX_RETRIES, INITIAL_DELAY, MAX_DELAY, MAX_RETRY_AFTER, JITTER) == (2, 0.5, 8.0, 120.0, 0.25)


def test_gives_up_after_max_retries() -> None:
    policy = RetryPolicy(max_retries=2, rng=lambda: 0.0)
    assert [policy.delay(ServerError("x"), n) for n in (1, 2, 3)] == [0.5, 1.0, None]
    assert RetryPolicy(max_retries=0).delay(ServerError("x"), 1) is None


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RateLimitError("x"), True),
        (ServerError("x", status=503), True),
        (TimeoutError("x"), True),
        (ConnectionError("x"), True),
        (StreamInterruptedError("x"), True),  # the client refuses once chunks were delivered
        (InvalidRequestError("x"), False),
        (ContextLengthError("x"), False),
        (AuthenticationError("x"), False),
        (PermissionDeniedError("x"), False),
        (ProtocolError("x"), False),
        (ConfigError("x"), False),
    ],
)
def test_what_is_retryable(error: Exception, retried: bool) -> None:
    assert (NO_JITTER.delay(error, 1) is not None) is retried  # type: ignore[arg-type]


def test_explicit_verdict_overrides_the_class() -> None:
    assert NO_JITTER.delay(set_should_retry(ServerError("x"), False), 1) is None
    assert NO_JITTER.delay(set_should_retry(InvalidRequestError("x"), True), 1) == 0.5
    assert should_retry_hint(set_should_retry(ServerError("x"), None)) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"x-should-retry": "true"}, True), ({"X-Should-Retry": "FALSE"}, False), ({"x-should-retry": "maybe"}, None), ({}, None)],
)
def test_x_should_retry_header(headers: Dict[str, str], expected: Optional[bool]) -> None:
    assert server_says_retry(headers) is expected


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ({"retry-after-ms": "1500"}, None, 1.5),
        ({"Retry-After-Ms": "250", "Retry-After": "30"}, None, 0.25),
        ({"retry-after-ms": "junk", "retry-after": "4"}, None, 4.0),
        ({"Retry-After": " 7 "}, None, 7.0),
        ({"retry-after": "2.5"}, None, 2.5),
        ({"retry-after": "Fri, 29 Sep 2023 16:26:57 GMT"}, None, None),  # a date needs the clock
        ({"retry-after": "Fri, 29 Sep 2023 16:26:57 GMT"}, NOW, 20.0),
        ({"retry-after": "Fri, 29 Sep 2023 16:26:17 GMT"}, NOW, 0.0),  # already past
        ({"retry-after": "-1"}, NOW, None),
        ({"retry-after": "nan"}, NOW, None),
        ({"retry-after": "infinity"}, NOW, None),
        ({}, NOW, None),
    ],
)
def test_parse_retry_after(headers: Dict[str, str], now: Optional[float], expected: Optional[float]) -> None:
    assert parse_retry_after(headers, now=now) == expected


def test_overflowing_retry_after_is_infinite_and_never_waited() -> None:
    value = parse_retry_after({"retry-after": "9" * 400}, now=NOW)
    assert value == math.inf
    assert NO_JITTER.delay(RateLimitError("x", retry_after=value), 1) is None


def test_status_error_reads_retry_after_and_the_servers_verdict() -> None:
    error = status_error(429, "slow", headers={"retry-after-ms": "800", "x-should-retry": "false"})
    assert isinstance(error, RateLimitError) and error.retry_after == 0.8
    assert should_retry_hint(error) is False
    dated = status_error(503, "busy", headers={"Retry-After": "Fri, 29 Sep 2023 16:26:57 GMT"}, now=NOW)
    assert isinstance(dated, ServerError) and dated.retry_after == 20.0
    assert isinstance(status_error(429, "q", code="insufficient_quota"), PermissionDeniedError)
    assert isinstance(status_error(408, "t"), ServerError) and isinstance(status_error(409, "c"), ServerError)


@pytest.mark.parametrize(
    "bad",
    [dict(max_retries=None), dict(max_retries=-1), dict(max_retries=1.5), dict(max_retries=True),
     dict(initial_delay=-1), dict(max_delay=float("nan")), dict(jitter=1.5), dict(max_retry_after="x")],
)
def test_invalid_policies_are_config_errors(bad: Dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**bad)  # type: ignore[arg-type]


def test_with_options_overlays_a_config_table() -> None:
    policy = RetryPolicy().with_options({"max_retries": 5, "max_delay": 30, "max_retry_after": 600})
    assert (policy.max_retries, policy.max_delay, policy.max_retry_after, policy.initial_delay) == (5, 30, 600, 0.5)
    with pytest.raises(ConfigError, match="unknown key"):
        RetryPolicy().with_options({"retries": 5})


def test_deadline_tracks_the_injected_clock() -> None:
    clock = FixedClock(100.0)
    deadline = Deadline(clock, 2.0)
    assert deadline() == 2.0 and deadline.allows(1.5) and not deadline.allows(2.0)
    clock.advance(1.5)
    assert deadline.remaining() == 0.5 and not deadline.expired
    clock.advance(0.5)
    assert deadline.expired
    with pytest.raises(TimeoutError, match="total deadline of 2 s") as info:
        deadline()
    assert should_retry_hint(info.value) is False
    unbounded = Deadline(clock, None)
    assert unbounded() is None and unbounded.allows(1e9) and not unbounded.expired
