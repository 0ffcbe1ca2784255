"""Client-side rate limiting: token buckets per provider and per model, thread-safe.

Configured per provider::

    [providers.internlm.rate_limit]
    requests_per_minute = 30        # the InternLM cloud API's documented default
    tokens_per_minute = 60000
    wait = true                     # false: raise RateLimitError at once instead of waiting

    [providers.internlm.rate_limit.models."intern-s1"]
    requests_per_minute = 10

Time comes from the injected clock, so tests run a long simulated period instantly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from .clock import Clock
from .errors import ConfigError, RateLimitError

__all__ = ["TokenBucket", "RateLimiter", "Limits", "CLIENT_LIMIT_CODE"]

#: ``RateLimitError.code`` when llmplex itself refused (fail-fast mode): never retried.
CLIENT_LIMIT_CODE = "llmplex_client_rate_limit"


class TokenBucket:
    """``capacity`` units, refilled continuously at ``capacity`` per ``period`` seconds."""

    def __init__(self, capacity: float, period: float, clock: Clock) -> None:
        if capacity <= 0 or period <= 0:
            raise ValueError("a bucket needs a positive capacity and period")
        self.capacity = float(capacity)
        self.rate = float(capacity) / float(period)
        self.clock = clock
        self.level = float(capacity)
        self.updated = clock.monotonic()

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, amount: float) -> float:
        """Take ``amount`` now (possibly going negative); returns the seconds to wait before use."""
        now = self.clock.monotonic()
        self._refill(now)
        self.level -= min(amount, self.capacity)
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def wait_time(self, amount: float) -> float:
        now = self.clock.monotonic()
        self._refill(now)
        short = min(amount, self.capacity) - self.level
        return 0.0 if short <= 0 else short / self.rate


@dataclass(frozen=True)
class Limits:
    requests_per_minute: Optional[float] = None
    tokens_per_minute: Optional[float] = None
    wait: bool = True

    @classmethod
    def parse(cls, table: Mapping[str, Any], where: str) -> Limits:
        unknown = set(table) - {"requests_per_minute", "tokens_per_minute", "wait", "models"}
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                "use requests_per_minute, tokens_per_minute, wait, models",
                field=where,
            )
        return cls(table.get("requests_per_minute"), table.get("tokens_per_minute"), bool(table.get("wait", True)))


class RateLimiter:
    """Holds the buckets of every configured provider and model."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._limits: Dict[Tuple[str, Optional[str]], Limits] = {}
        self._buckets: Dict[Tuple[str, Optional[str], str], TokenBucket] = {}
        self._lock = threading.Lock()

    def configure(self, provider: str, table: Mapping[str, Any]) -> None:
        where = f"providers.{provider}.rate_limit"
        self._limits[(provider, None)] = Limits.parse(table, where)
        for model, model_table in (table.get("models") or {}).items():
            self._limits[(provider, model)] = Limits.parse(model_table, f"{where}.models.{model}")

    def acquire(self, provider: str, model: str, tokens: int = 0) -> float:
        """Reserve one request (and ``tokens``) for ``provider``/``model``; sleeps if limited.

        Returns the seconds waited. Raises RateLimitError instead when ``wait`` is false.
        """
        keys = [k for k in ((provider, None), (provider, model)) if k in self._limits]
        if not keys:
            return 0.0
        with self._lock:
            needed = 0.0
            plan = []
            for key in keys:
                limits = self._limits[key]
                for unit, per_minute, amount in (
                    ("requests", limits.requests_per_minute, 1.0),
                    ("tokens", limits.tokens_per_minute, float(tokens)),
                ):
                    if per_minute is None or amount <= 0:
                        continue
                    bucket = self._bucket(key, unit, per_minute)
                    needed = max(needed, bucket.wait_time(amount))
                    plan.append((bucket, amount, limits.wait, unit))
            if needed > 0 and not all(wait for _, _, wait, _ in plan):
                raise RateLimitError(
                    f"client-side rate limit for {provider}/{model} reached; next slot in {needed:.2f} s",
                    provider=provider,
                    model=model,
                    retry_after=needed,
                    code=CLIENT_LIMIT_CODE,
                )
            waits = [bucket.reserve(amount) for bucket, amount, _, _ in plan]
        delay = max(waits, default=0.0)
        if delay > 0:
            self.clock.sleep(delay)
        return delay

    def _bucket(self, key: Tuple[str, Optional[str]], unit: str, per_minute: float) -> TokenBucket:
        full = (key[0], key[1], unit)
        bucket = self._buckets.get(full)
        if bucket is None:
            bucket = TokenBucket(per_minute, 60.0, self.clock)
            self._buckets[full] = bucket
        return bucket
