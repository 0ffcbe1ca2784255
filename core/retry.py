"""The retry policy: pure functions over constants, so tables can pin them.

Defaults are at least as careful as the official OpenAI SDK's (2 retries, 0.5 s doubling to an
8 s cap, jitter of up to 25 % downwards, Retry-After honoured), see ``docs/reliability.md``.
A stream is never retried once its first chunk reached the caller.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Optional

from .errors import LLMError, RateLimitError, StreamInterruptedError

__all__ = ["RetryPolicy", "DEFAULT_MAX_RETRIES", "INITIAL_DELAY", "MAX_DELAY", "MAX_RETRY_AFTER"]

DEFAULT_MAX_RETRIES = 2
INITIAL_DELAY = 0.5
MAX_DELAY = 8.0
#: A longer Retry-After than this is not waited out: the error is raised with ``retry_after``
#: set, so a caller with its own scheduler decides (OpenAI SDK 3.x does the same).
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = INITIAL_DELAY
    max_delay: float = MAX_DELAY
    max_retry_after: float = MAX_RETRY_AFTER
    jitter: float = 0.25

    def delay(self, error: LLMError, attempt: int, *, rng: Callable[[], float] = random.random) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``attempt`` counts the attempts already made (1 after the first failure).
        """
        if attempt > self.max_retries or not self.is_retryable(error):
            return None
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            return max(0.0, error.retry_after)
        backoff = min(self.initial_delay * (2 ** (attempt - 1)), self.max_delay)
        return backoff * (1.0 - self.jitter * rng())

    @staticmethod
    def is_retryable(error: LLMError) -> bool:
        if isinstance(error, StreamInterruptedError) and error.partial is not None and error.partial.text:
            return False
        if isinstance(error, RateLimitError):
            # The caller chose fail-fast for llmplex's own limiter: waiting is not wanted.
            return error.code != "llmplex_client_rate_limit"
        return type(error).retryable
