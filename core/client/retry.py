"""The retry policy and the per-call deadline: pure rules over injected time and randomness.

llmplex owns its retries instead of handing them to urllib3's ``Retry``: that one skips POST by
default, raised ``InvalidHeader`` on a fractional ``Retry-After`` (no retry, error body lost) and
replaces the vendor's error body with ``MaxRetryError`` when it gives up. Here every attempt's
error is a typed :class:`~llmplex.errors.LLMError` carrying the vendor's payload.

Defaults are the official OpenAI SDK's (``openai`` 3.x), see ``docs/reliability.md``:

* 2 retries (3 attempts), on connection errors, timeouts, 408, 409, 429, 5xx and the vendors'
  rate-limit / overload codes inside 200 bodies (the error *classes* say which:
  ``RateLimitError``, ``ServerError``, ``TimeoutError``, ``ConnectionError``);
* backoff ``min(0.5 * 2**retries_taken, 8.0)`` shortened by a random 0-25 % (jitter only ever
  shortens, as in the SDK);
* a server-sent wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date) in ``(0, 120]``
  seconds is used verbatim; a longer one is not waited out: the error is raised at once with
  ``retry_after`` set, so a caller with its own scheduler (or a fallback chain) decides;
* ``x-should-retry: true|false`` from the server overrides the class rule, as both official SDKs
  do;
* a stream is never retried once a chunk has reached the caller (the client enforces this:
  only it knows what was delivered).
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from ..clock import Clock, seconds_text
from ..errors import ConfigError, LLMError, TimeoutError

__all__ = [
    "RetryPolicy",
    "Deadline",
    "DEFAULT_MAX_RETRIES",
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_RETRY_AFTER",
    "JITTER",
    "server_says_retry",
    "set_should_retry",
    "should_retry_hint",
]

DEFAULT_MAX_RETRIES = 2
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
#: A longer server-requested wait than this is not waited out: the error is raised with
#: ``retry_after`` set (the OpenAI SDK 3.x rule; before 3.x it was 60 s).
MAX_RETRY_AFTER = 120.0
#: The longest delay a policy may hold (a week, as timeouts): sleep() overflows on more.
_MAX_DELAY = 7 * 24 * 3600.0
#: The backoff is multiplied by ``1 - JITTER * rng()``: between 75 % and 100 % of its value.
JITTER = 0.25

_POLICY_KEYS = ("max_retries", "initial_delay", "max_delay", "max_retry_after", "jitter")


def server_says_retry(headers: Mapping[str, str]) -> Optional[bool]:
    """The ``x-should-retry`` header as True/False, None when absent or neither value.

    Not a standard header, but OpenAI and Anthropic send it and both SDKs obey it ("If the
    server explicitly says whether or not to retry, obey"): llmplex does too.
    """
    for name, value in headers.items():
        if name.lower() == "x-should-retry":
            lowered = value.strip().lower()
            if lowered == "true":
                return True
            if lowered == "false":
                return False
    return None


def set_should_retry(error: LLMError, value: Optional[bool]) -> LLMError:
    """Record an explicit retry verdict on ``error`` (None leaves it to the error's class)."""
    if value is not None:
        error.should_retry = value
    return error


def should_retry_hint(error: LLMError) -> Optional[bool]:
    """The explicit verdict recorded by :func:`set_should_retry`, if any."""
    return error.should_retry


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Immutable; derive variants with :meth:`replace`.

    ``rng`` returns floats in ``[0, 1)``; tests pass ``lambda: 0.0`` for exact delays.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_DELAY
    max_delay: float = MAX_DELAY
    max_retry_after: float = MAX_RETRY_AFTER
    jitter: float = JITTER
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        # The OpenAI SDK validates max_retries the same way: None or a float is a caller's bug.
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise ConfigError(
                f"max_retries must be a non-negative integer, got {type(self.max_retries).__name__}; "
                "use 0 to disable retries",
                field="max_retries",
            )
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}", field="max_retries")
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            # Finite and at most a week: sleep() and lock waits overflow on more (OverflowError).
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= _MAX_DELAY:
                raise ConfigError(f"{name} must be a number of seconds from 0 to {_MAX_DELAY:.0f} (a week), got {value!r}",
                                  field=name)
        if isinstance(self.jitter, bool) or not isinstance(self.jitter, (int, float)) or not 0 <= self.jitter <= 1:
            raise ConfigError(f"jitter must be between 0 and 1, got {self.jitter!r}", field="jitter")

    def replace(self, **changes: Any) -> RetryPolicy:
        return dataclasses.replace(self, **changes)

    def with_options(self, options: Mapping[str, Any], where: str = "retry") -> RetryPolicy:
        """This policy overlaid with a config table (``max_retries``, ``initial_delay``, ...)."""
        unknown = sorted(set(options) - set(_POLICY_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(_POLICY_KEYS)}", field=where
            )
        changes = {k: options[k] for k in _POLICY_KEYS if options.get(k) is not None}
        return self.replace(**changes) if changes else self

    # -- decisions ------------------------------------------------------------------------
    def is_retryable(self, error: LLMError) -> bool:
        """Whether another attempt may succeed: the server's explicit verdict, else the class."""
        hint = should_retry_hint(error)
        if hint is not None:
            return hint
        return bool(type(error).retryable)

    def backoff(self, retries_taken: int, rng: Optional[Callable[[], float]] = None) -> float:
        """The exponential delay before retry number ``retries_taken + 1``, jittered downwards."""
        exponent = min(max(retries_taken, 0), 1000)  # 2**1000 still fits a float; more would not
        base = min(self.initial_delay * (2.0**exponent), self.max_delay)
        return max(0.0, base * (1.0 - self.jitter * (rng or self.rng)()))

    def delay(self, error: LLMError, attempt: int, *, rng: Optional[Callable[[], float]] = None) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``attempt`` counts the attempts already made (1 after the first failure).
        """
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        wait = error.retry_after
        if wait is not None and not math.isnan(wait) and wait > 0:
            if wait > self.max_retry_after:
                return None  # raise now, with .retry_after set: the caller schedules
            return float(wait)
        # No (usable) server hint: Retry-After of 0, negative, NaN or absent means backoff.
        return self.backoff(attempt - 1, rng)


class Deadline:
    """A total time budget for one call, read from the injected clock.

    Transports call it (``deadline()``) between chunks; the client clamps each attempt's connect
    and read timeouts to what is left, so a silent socket cannot outlive the budget either.
    """

    def __init__(self, clock: Clock, seconds: Optional[float]) -> None:
        self.clock = clock
        self.seconds = seconds
        self.limit = None if seconds is None else clock.monotonic() + seconds

    def remaining(self) -> Optional[float]:
        """Seconds left (never negative), or None without a deadline."""
        if self.limit is None:
            return None
        return max(0.0, self.limit - self.clock.monotonic())

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def error(self) -> TimeoutError:
        error = TimeoutError(f"call exceeded its total deadline of {seconds_text(self.seconds or 0)}")
        # Nothing is left of the budget: another attempt could only fail the same way.
        set_should_retry(error, False)
        return error

    def __call__(self) -> Optional[float]:
        """Raise TimeoutError if the budget is spent; else return the seconds left (or None)."""
        left = self.remaining()
        if left is not None and left <= 0:
            raise self.error()
        return left

    def allows(self, delay: float) -> bool:
        """Whether sleeping ``delay`` seconds still leaves time for another attempt."""
        left = self.remaining()
        return left is None or delay < left
