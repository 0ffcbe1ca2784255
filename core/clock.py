"""Time as a dependency: providers sign with ``now()``, retries wait with ``sleep()``.

Injecting the clock is what makes signatures reproducible (``Client(clock=FixedClock(...))``)
and retry tests instant.
"""

from __future__ import annotations

import threading
import time
from typing import List, Protocol

__all__ = ["Clock", "SystemClock", "FixedClock", "seconds_text"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch (wall clock, for signatures)."""

    def monotonic(self) -> float:
        """A monotonic reading in seconds (for latencies and deadlines)."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FixedClock:
    """A clock that only moves when told (or when slept on): for tests and reproducible requests.

    ``slept`` records every requested sleep, in order, so a test asserts the exact waits of a
    retry sequence without waiting. Safe to share between threads (``batch``).
    """

    def __init__(self, start: float = 0.0) -> None:
        self.current = float(start)
        self.slept: List[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.current

    def monotonic(self) -> float:
        return self.current

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.current += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.current += seconds


def seconds_text(seconds: float) -> str:
    """A duration for a message: ``0.5 s`` (not ``0.4999918749999779 s``), ``2 s``, ``600 s``.

    Three significant digits below 100 s, whole seconds above; every time llmplex prints in an
    error message goes through here.
    """
    value = float(seconds)
    if value != value or value in (float("inf"), float("-inf")):
        return f"{value} s"
    if abs(value) >= 100:
        return f"{value:.0f} s"
    return f"{value:.3g} s"
