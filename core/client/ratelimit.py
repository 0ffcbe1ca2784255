"""Client-side rate limiting: token buckets per provider and per model, thread-safe.

Configured per provider (or for every provider under ``[defaults.rate_limit]``)::

    [providers.internlm.rate_limit]
    requests_per_minute = 30        # the InternLM cloud API's documented default (preset default)
    tokens_per_minute = 60000
    burst = 5                       # requests allowed back to back (default: requests_per_minute)
    wait = true                     # false: raise RateLimitError at once instead of waiting
    max_wait = 30                   # wait at most this long, else raise RateLimitError

    [providers.internlm.rate_limit.models."intern-s1"]
    requests_per_minute = 10

Semantics. Each limit is a token bucket of ``capacity`` units refilled continuously at
``per_minute / 60`` units a second; the requests bucket holds ``burst`` (default: a minute's
worth), the tokens bucket a minute's worth. A request takes one unit from every requests bucket
that applies (provider and model) and its token estimate from every tokens bucket. Grants are
first come, first served: a caller never overtakes one already waiting, and its units are taken
at the moment it is allowed to go, so over any interval of ``T`` seconds a bucket grants at most
``capacity + rate * T`` units, whatever the number of threads.

Tokens per minute needs an estimate before the reply: ``ceil(prompt characters / 4) +
max_tokens`` (0 when unset), prompt characters being every text part, tool-call argument and
tool schema of the request, and 765 tokens per image (OpenAI's price of a 1024x1024 image).
After the reply, :meth:`RateLimiter.settle` corrects the buckets with the vendor's reported usage
(taking more, or giving back what was not used).

Time comes from the injected clock, so tests run a long simulated period instantly.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from ..clock import Clock, seconds_text
from ..errors import ConfigError, RateLimitError
from .retry import set_should_retry

if TYPE_CHECKING:
    from ..schema.request import ChatRequest

__all__ = ["TokenBucket", "RateLimiter", "Limits", "CLIENT_LIMIT_CODE", "estimate_tokens", "IMAGE_TOKENS"]

#: ``RateLimitError.code`` when llmplex itself refused (fail-fast mode): never retried, but a
#: fallback chain moves on to its next entry.
CLIENT_LIMIT_CODE = "llmplex_client_rate_limit"
#: Tokens counted for one image part in the estimate.
IMAGE_TOKENS = 765
_CHARS_PER_TOKEN = 4

#: The longest wait a limiter may be told to accept (a week, as timeouts and retry delays).
_MAX_WAIT = 7 * 24 * 3600.0
_KEYS = ("requests_per_minute", "tokens_per_minute", "burst", "wait", "max_wait", "models")


class TokenBucket:
    """``capacity`` units, refilled continuously at ``rate`` units per second.

    Not locked by itself: :class:`RateLimiter` serialises access. ``updated`` may lie in the
    future: it is the grant time of the last caller, who may still be sleeping until then.
    """

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        if not capacity > 0 or not rate > 0:
            raise ValueError("a bucket needs a positive capacity and rate")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.level = float(capacity)
        self.updated = now

    def _level_at(self, when: float) -> float:
        return min(self.capacity, self.level + max(0.0, when - self.updated) * self.rate)

    def available_at(self, amount: float, now: float) -> float:
        """The earliest time, not before ``now`` nor before the last grant, when ``amount``
        (at most the capacity) units are in the bucket."""
        start = max(now, self.updated)
        short = min(amount, self.capacity) - self._level_at(start)
        return start if short <= 0 else start + short / self.rate

    def take(self, amount: float, when: float) -> None:
        """Take ``amount`` units at time ``when`` (>= the last grant)."""
        when = max(when, self.updated)
        self.level = self._level_at(when) - min(amount, self.capacity)
        self.updated = when

    def adjust(self, delta: float) -> None:
        """Take ``delta`` more units (give back when negative), without moving the time."""
        self.level = min(self.capacity, self.level - delta)


@dataclass(frozen=True)
class Limits:
    requests_per_minute: Optional[float] = None
    tokens_per_minute: Optional[float] = None
    burst: Optional[float] = None
    wait: bool = True
    max_wait: Optional[float] = None

    @classmethod
    def parse(cls, table: Mapping[str, Any], where: str) -> Limits:
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table", field=where)
        unknown = set(table) - set(_KEYS)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {', '.join(_KEYS)}",
                field=where,
            )
        numbers: Dict[str, Optional[float]] = {}
        for key in ("requests_per_minute", "tokens_per_minute", "burst", "max_wait"):
            value = table.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0
                or (value == 0 and key != "max_wait")
            ):
                raise ConfigError(f"{where}.{key} must be a positive number, got {value!r}", field=f"{where}.{key}")
            if key == "max_wait" and value is not None and value > _MAX_WAIT:
                # As every other wait: sleep() and lock waits overflow on more.
                raise ConfigError(f"{where}.max_wait must be a number of seconds from 0 to {_MAX_WAIT:.0f} (a week),"
                                  f" got {value!r}", field=f"{where}.max_wait")
            numbers[key] = None if value is None else float(value)
        wait = table.get("wait", True)
        if not isinstance(wait, bool):
            raise ConfigError(f"{where}.wait must be true or false, got {wait!r}", field=f"{where}.wait")
        return cls(
            numbers["requests_per_minute"], numbers["tokens_per_minute"], numbers["burst"], wait, numbers["max_wait"]
        )


def estimate_tokens(request: ChatRequest) -> int:
    """The tokens a request may use: ``ceil(prompt chars / 4) + max_tokens`` (see module doc)."""
    chars = 0
    images = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                text = getattr(part, "text", None)
                if isinstance(text, str):
                    chars += len(text)
                else:
                    images += 1
        for call in message.tool_calls or []:
            chars += len(call.name) + len(call.raw_arguments or "")
        if isinstance(message.reasoning_content, str):
            chars += len(message.reasoning_content)
    for tool in request.tools or []:
        chars += len(tool.name) + len(tool.description or "") + len(json.dumps(tool.parameters, default=str))
    prompt = -(-chars // _CHARS_PER_TOKEN) + images * IMAGE_TOKENS
    return prompt + (request.max_tokens or 0)


Key = Tuple[str, Optional[str]]


class RateLimiter:
    """Holds the buckets of every configured provider and model. Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._limits: Dict[Key, Limits] = {}
        self._buckets: Dict[Tuple[str, Optional[str], str], TokenBucket] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        names = sorted(f"{provider}/{model or '*'}" for provider, model in self._limits)
        return f"RateLimiter(limits={names})"

    def configure(self, provider: str, table: Mapping[str, Any]) -> None:
        """Set ``provider``'s limits from a ``rate_limit`` table (replacing earlier ones)."""
        where = f"providers.{provider}.rate_limit"
        parsed: Dict[Key, Limits] = {(provider, None): Limits.parse(table, where)}
        models = table.get("models") or {}
        if not isinstance(models, Mapping):
            raise ConfigError(f"{where}.models must be a table of model names", field=f"{where}.models")
        for model, model_table in models.items():
            parsed[(provider, str(model))] = Limits.parse(model_table, f"{where}.models.{model}")
        with self._lock:
            for key in [k for k in self._limits if k[0] == provider]:
                del self._limits[key]
            for bucket in [b for b in self._buckets if b[0] == provider]:
                del self._buckets[bucket]
            self._limits.update(parsed)

    def limited(self, provider: str, model: str) -> bool:
        limits = self._limits
        return bool(limits) and ((provider, None) in limits or (provider, model) in limits)

    def acquire(self, provider: str, model: str, tokens: int = 0, *, wait: Optional[bool] = None,
                max_wait: Optional[float] = None) -> float:
        """Reserve one request (and ``tokens``) for ``provider``/``model``; sleeps if limited.

        Returns the seconds waited. Raises RateLimitError (code :data:`CLIENT_LIMIT_CODE`,
        ``retry_after`` = the wait that was refused) without taking anything when the caller
        chose not to wait (``wait`` false, from the argument or the config) or the wait would
        exceed ``max_wait`` (the smaller of the argument and the config's).
        """
        delay = self.reserve(provider, model, tokens, wait=wait, max_wait=max_wait)
        if delay > 0:
            self.clock.sleep(delay)
        return delay

    def reserve(self, provider: str, model: str, tokens: int = 0, *, wait: Optional[bool] = None,
                max_wait: Optional[float] = None) -> float:
        """:meth:`acquire` without the sleep: the slot is taken and the seconds until it falls
        due are returned, for the caller to wait them its own way (the asyncio driver awaits)."""
        keys = [k for k in ((provider, None), (provider, model)) if k in self._limits]
        if not keys:
            return 0.0
        with self._lock:
            now = self.clock.monotonic()
            plan: List[Tuple[TokenBucket, float]] = []
            patient = True
            ceiling = max_wait
            for key in keys:
                limits = self._limits[key]
                patient = patient and limits.wait
                if limits.max_wait is not None:
                    ceiling = limits.max_wait if ceiling is None else min(ceiling, limits.max_wait)
                for unit, per_minute, amount in (
                    ("requests", limits.requests_per_minute, 1.0),
                    ("tokens", limits.tokens_per_minute, float(tokens)),
                ):
                    if per_minute is None or amount <= 0:
                        continue
                    capacity = (limits.burst or per_minute) if unit == "requests" else per_minute
                    plan.append((self._bucket(key, unit, capacity, per_minute / 60.0, now), amount))
            grant = max((bucket.available_at(amount, now) for bucket, amount in plan), default=now)
            delay = grant - now
            if wait is not None:
                patient = wait
            if delay > 0 and (not patient or (ceiling is not None and delay > ceiling)):
                error = RateLimitError(
                    f"client-side rate limit for {provider}/{model} reached; next slot in {seconds_text(delay)}",
                    provider=provider,
                    model=model,
                    retry_after=delay,
                    code=CLIENT_LIMIT_CODE,
                )
                # The caller asked not to wait: retrying would wait in another form.
                raise set_should_retry(error, False)
            for bucket, amount in plan:
                bucket.take(amount, grant)
        return delay

    def settle(self, provider: str, model: str, estimated: int, actual: Optional[int]) -> None:
        """Correct the tokens buckets once the vendor reported ``actual`` usage."""
        if actual is None or actual == estimated:
            return
        with self._lock:
            for key in ((provider, None), (provider, model)):
                bucket = self._buckets.get((key[0], key[1], "tokens"))
                if bucket is not None:
                    bucket.adjust(float(actual - estimated))

    def _bucket(self, key: Key, unit: str, capacity: float, rate: float, now: float) -> TokenBucket:
        full = (key[0], key[1], unit)
        bucket = self._buckets.get(full)
        if bucket is None:
            bucket = TokenBucket(capacity, rate, now)
            self._buckets[full] = bucket
        return bucket
