"""The rules of one call, without I/O: what to send next, and what to do when an attempt ends.

:class:`CallLoop` holds the state of one ``chat``/``stream`` call across its fallback chain and
retries: the chain entry being tried, the attempt number, the call's total deadline, the
failures that moved the call along the chain. Two drivers run it, the synchronous one
(``Client._execute``) and the asyncio one (:mod:`llmplex.client.aio`); they only do the I/O (an
attempt, a sleep), so retries, Retry-After, deadlines, token refreshes, fallbacks, hooks and the
call log follow one set of rules whichever API the caller uses::

    plan = CallLoop(client, chain, requested, messages, params, options, stream=False)
    for _ in plan.entries():
        while True:
            job = plan.begin()
            try:
                plan.check()
                response = <one attempt of job>
            except LLMError as exc:
                delay = plan.failed(exc, job, delivered)   # raises the final error
                if delay is None:
                    break                                  # next chain entry
                <sleep delay>
                continue
            return plan.succeeded(job, response)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import ConfigError, ConnectionError, LLMError, RateLimitError, ServerError, TimeoutError
from ..provider.contract import Provider
from ..provider.wire import vendor_fault
from ..schema.accumulator import StreamAccumulator
from ..schema.request import ChatRequest
from ..schema.response import ChatResponse, FallbackFailure
from ..schema.validation import make_request
from ..transport.http import Timeouts
from .answers import fallback_failure, keep_raw
from .observe import CallInfo, log_call, log_retry
from .retry import Deadline, RetryPolicy
from .settings import call_policy, call_timeouts

# llmplex.client.client.Client, which imports this module (a type-only import would still be
# an import cycle for the project's checker).
Client = Any

__all__ = ["CallLoop", "Attempt", "FALLBACK_ON"]

#: Errors after which the next model of a fallback chain is tried (a client-side rate limit in
#: fail-fast mode included: the next vendor is not limited).
FALLBACK_ON: Tuple[type, ...] = (RateLimitError, ServerError, TimeoutError, ConnectionError)


@dataclass
class Attempt:
    """Everything one attempt needs; built by the loop, read by the one-attempt helpers."""

    provider: Provider
    request: ChatRequest
    call: CallInfo
    #: Connect and read timeouts, already clamped to what is left of the deadline.
    timeouts: Timeouts
    deadline: Deadline
    #: The caller's per-call choice for the client-side rate limiter (None: the config's).
    wait: Optional[bool]
    estimated_tokens: int = 0
    #: The exchanged token this attempt's request carries (None: the provider needs none).
    token: Optional[str] = None


class CallLoop:
    """The state of one call across chain entries and attempts (see the module docstring)."""

    def __init__(self, client: Client, chain: List[str], requested: str, messages: Any, params: Dict[str, Any],
                 options: Dict[str, Any], *, stream: bool) -> None:
        self.client = client
        self.chain = chain
        self.requested = requested
        self.messages = messages
        self.params = params
        self.options = options
        self.stream = stream
        self.started = client.clock.monotonic()
        self.deadline: Optional[Deadline] = None
        wait = options.get("rate_limit_wait")
        self.wait = None if wait is None else bool(wait)
        self.failures: List[FallbackFailure] = []
        self.raw_log = keep_raw(options)
        # The chain entry being tried (set by entries()).
        self.position = 0
        self.target = ""
        self.provider: Optional[Provider] = None
        self.request: Optional[ChatRequest] = None
        self.dropped: List[str] = []
        self.policy = RetryPolicy()
        self.timeouts = Timeouts()
        self.attempt = 1
        self.refreshed = False

    def entries(self) -> Iterator[None]:
        """Steps through the chain; each step sets up one entry's request, policy and timeouts."""
        client = self.client
        for position, target in enumerate(self.chain):
            provider, vendor_model = client._split(target)
            entry_params = client.config.call_params(self.requested, position, provider.name, self.params)
            request = make_request(vendor_model, self.messages, stream=self.stream, **entry_params)
            try:
                request, self.dropped = client._admit(provider, request, self.options)
            except LLMError as exc:
                # Refused before anything was built: observers and the call log still hear of it.
                error = client._finish_error(exc, provider, request, 1, self.deadline)
                refused = CallInfo(provider.name, request.model, 1, self.stream, None, request, client.clock.monotonic(),
                                   position=position, chain=tuple(self.chain))
                client.plugins.hook.llmplex_on_error(call=refused, error=error)
                log_call(refused, latency=client.clock.monotonic() - self.started, error=error,
                         requested=self.requested, fallbacks=position, request_id=None)
                raise error
            self.policy = call_policy(provider, client.config.defaults, client.retry, self.options)
            self.timeouts = call_timeouts(provider, client.config.defaults, client.timeouts, self.options)
            if self.deadline is None:
                # One budget for the whole call, fallbacks included, from the first entry.
                self.deadline = Deadline(client.clock, self.timeouts.total)
            self.position, self.target, self.provider, self.request = position, target, provider, request
            self.attempt = 1
            self.refreshed = False  # a rejected token is replaced and the call retried once
            yield
        raise ConfigError("empty model chain", field="model")  # pragma: no cover - resolve_model never returns []

    def begin(self) -> Attempt:
        """The next attempt of the current entry."""
        provider, request, deadline = self.provider, self.request, self.deadline
        assert provider is not None and request is not None and deadline is not None
        call = CallInfo(
            provider.name, request.model, self.attempt, self.stream, None, request, self.client.clock.monotonic(),
            position=self.position, chain=tuple(self.chain),
        )
        return Attempt(provider, request, call, self.timeouts.clamped(deadline.remaining()), deadline, self.wait)

    def check(self) -> None:
        """Raises the deadline's TimeoutError once the call's budget is spent."""
        assert self.deadline is not None
        self.deadline()

    def accumulator(self, job: Attempt) -> StreamAccumulator:
        return StreamAccumulator(provider=job.provider.name, model=job.request.model, keep_raw=self.raw_log)

    def failed(self, exc: LLMError, job: Attempt, delivered: int) -> Optional[float]:
        """An attempt raised ``exc`` after ``delivered`` chunks reached the caller.

        Returns the seconds to wait before the next attempt of this entry, or None to move to
        the next entry; raises the final error (hooks called, call logged) otherwise.
        """
        client, provider, request, deadline = self.client, job.provider, job.request, job.deadline
        error: LLMError = client._finish_error(exc, provider, request, self.attempt, deadline)
        client.plugins.hook.llmplex_on_error(call=job.call, error=error)
        # Once the caller has seen a chunk, a retry would duplicate text: never.
        delay = None if delivered else self.policy.delay(error, self.attempt)
        if client._tokens.rejected(provider, error, job.token) and not (delivered or self.refreshed):
            self.refreshed, delay = True, 0.0
        if delay is not None and not deadline.allows(delay):
            delay = None  # the wait alone would spend the budget
        if delay is None:
            if (not delivered and self.position + 1 < len(self.chain) and isinstance(error, FALLBACK_ON)
                    and not deadline.expired):
                self.failures.append(fallback_failure(self.target, error))
                return None  # next chain entry
            log_call(job.call, latency=client.clock.monotonic() - self.started, error=error,
                     requested=self.requested, fallbacks=self.position, request_id=job.call.extra.get("request_id"))
            raise error
        client.plugins.hook.llmplex_on_retry(call=job.call, error=error, delay=delay)
        log_retry(job.call, error, delay)
        self.attempt += 1
        return delay

    def succeeded(self, job: Attempt, response: ChatResponse) -> ChatResponse:
        """The reply of a successful attempt, stamped, settled with the limiter, hooked, logged."""
        client, provider, request, call = self.client, job.provider, job.request, job.call
        now = client.clock.monotonic()
        response.attempts = self.attempt
        response.warnings = self.dropped
        response.fallbacks = self.failures
        if response.latency is None:
            response.latency = now - call.started
        usage = response.usage
        if job.estimated_tokens and usage is not None and usage.total_tokens > 0:
            client.limiter.settle(provider.name, request.model, job.estimated_tokens, usage.total_tokens)
        client.plugins.hook.llmplex_after_response(call=call, response=response)
        log_call(call, latency=now - self.started, response=response, requested=self.requested,
                 fallbacks=self.position, request_id=call.extra.get("request_id"))
        return response


def _assembled(accumulator: StreamAccumulator, provider: str) -> ChatResponse:
    """The streamed reply; what the schema refuses in it is the vendor's fault (ProtocolError)."""
    try:
        return accumulator.response()
    except LLMError as exc:
        error = vendor_fault(exc, provider)
        error.partial = _partial(accumulator)
        raise error from None


def _partial(accumulator: StreamAccumulator) -> Optional[ChatResponse]:
    """What arrived, for ``error.partial``; None when even that does not fit the schema."""
    try:
        return accumulator.response(strict=False)
    except LLMError:
        return None
