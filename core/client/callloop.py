"""The rules of one call, without I/O: what to send next, and what to do when an attempt ends.

:class:`CallLoop` holds the state of one ``chat``/``stream`` call across its fallback chain and
retries: the chain entry being tried, the attempt number, the call's total deadline, the
failures that moved the call along the chain. Three drivers run it (the synchronous ``chat``
and ``stream``, and the asyncio ones in :mod:`llmplex.client.aio`); they only do the I/O (an
attempt, a sleep), so retries, Retry-After, deadlines, token refreshes, fallbacks, hooks and the
call log follow one set of rules whichever API the caller uses::

    plan = CallLoop(client, chain, requested, messages, params, options, stream=False)
    while True:
        job = plan.begin()              # the next attempt (of this entry, or of the next one)
        try:
            plan.check()
            response = <one attempt of job>
        except LLMError as exc:
            delay = plan.failed(exc, job, delivered)   # raises the final error
            if delay is not None:
                <sleep delay>                          # None: the next entry, at once
            continue
        return plan.succeeded(job, response)

What does not change from call to call is worked out once per client and provider (the
entry's retry policy and timeouts, its default parameters, whether it exchanges tokens), and
what only an observer would read (the redacted request, the log record) is built only when a
hook implementation or an enabled logger is there to read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import ConfigError, ConnectionError, LLMError, RateLimitError, ServerError, TimeoutError
from ..provider.contract import Provider, WireRequest
from ..provider.wire import vendor_fault
from ..schema.accumulator import StreamAccumulator
from ..schema.request import ChatRequest
from ..schema.response import ChatResponse, FallbackFailure
from ..schema.validation import make_request
from ..transport.http import Timeouts
from .answers import fallback_failure, keep_raw, set_fields
from .observe import CallInfo, log_call, log_retry, redact_wire
from .retry import Deadline, RetryPolicy

# llmplex.client.client.Client, which imports this module (a type-only import would still be
# an import cycle for the project's checker).
Client = Any

__all__ = ["CallLoop", "Attempt", "Outcome", "FALLBACK_ON"]

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
    #: The request as sent (its repr masked); ``call.wire`` gets its redacted copy when a hook
    #: is there to see it (see :meth:`CallLoop.observed`).
    wire: Optional[WireRequest] = None


# Placeholders until the first entry is set up (built once: their checks are not free).
_NO_POLICY = RetryPolicy()
_NO_TIMEOUTS = Timeouts()


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
        self.links = tuple(chain)  # what each attempt's CallInfo carries as ``chain``
        self.started = client.clock.monotonic()
        self.deadline: Optional[Deadline] = None
        wait = options.get("rate_limit_wait")
        self.wait = None if wait is None else bool(wait)
        self.failures: List[FallbackFailure] = []
        self.raw_log = keep_raw(options)
        # The chain entry being tried (set by begin()).
        self.position = 0
        self.target = ""
        self.provider: Optional[Provider] = None
        self.request: Optional[ChatRequest] = None
        self.dropped: List[str] = []
        self.policy = _NO_POLICY
        self.timeouts = _NO_TIMEOUTS
        self.attempt = 1
        self.refreshed = False
        # The chain entry begin() sets up next (None: go on with the current one).
        self._enter: Optional[int] = 0

    def _entry(self, position: int) -> None:
        """Sets up chain entry ``position``: its request, policy and timeouts."""
        client = self.client
        self.position, self.target = position, self.chain[position]
        provider, vendor_model = client._split(self.target)
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
        self.policy, self.timeouts = client._call_settings(provider, self.options)
        if self.deadline is None:
            # One budget for the whole call, fallbacks included, from the first entry.
            self.deadline = Deadline(client.clock, self.timeouts.total)
        self.provider, self.request = provider, request
        self.attempt = 1
        self.refreshed = False  # a rejected token is replaced and the call retried once

    def begin(self) -> Attempt:
        """The next attempt: the first one of the call, a retry of the current entry, or the
        first attempt of the entry that :meth:`failed` moved the call to."""
        if self._enter is not None:
            self._entry(self._enter)
            self._enter = None
        provider, request, deadline = self.provider, self.request, self.deadline
        assert provider is not None and request is not None and deadline is not None
        call = CallInfo(
            provider.name, request.model, self.attempt, self.stream, None, request, self.client.clock.monotonic(),
            position=self.position, chain=self.links,
        )
        timeouts = self.timeouts
        if deadline.limit is not None:
            timeouts = _clamped(timeouts, deadline.remaining())
        return Attempt(provider, request, call, timeouts, deadline, self.wait)

    def observed(self, job: Attempt) -> CallInfo:
        """``job.call`` as a hook sees it: with the redacted copy of the request sent (made on
        the first hook that is called, and only then)."""
        call = job.call
        if call.wire is None and job.wire is not None:
            call.wire = redact_wire(job.wire, self.client.redactor)
        return call

    def check(self) -> None:
        """Raises the deadline's TimeoutError once the call's budget is spent."""
        assert self.deadline is not None
        self.deadline()

    def accumulator(self, job: Attempt) -> StreamAccumulator:
        return StreamAccumulator(provider=job.provider.name, model=job.request.model, keep_raw=self.raw_log)

    def failed(self, exc: LLMError, job: Attempt, delivered: int) -> Optional[float]:
        """An attempt raised ``exc`` after ``delivered`` chunks reached the caller.

        Returns the seconds to wait before the next attempt of this entry, or None when the call
        moves to the next entry (the next :meth:`begin` sets it up, outside the caller's
        ``except`` block); raises the final error (hooks called, call logged) otherwise.
        """
        client, provider, request, deadline = self.client, job.provider, job.request, job.deadline
        error: LLMError = client._finish_error(exc, provider, request, self.attempt, deadline)
        hooks = client.plugins.hook
        if _wanted(hooks.llmplex_on_error):
            hooks.llmplex_on_error(call=self.observed(job), error=error)
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
                self._enter = self.position + 1
                return None
            log_call(job.call, latency=client.clock.monotonic() - self.started, error=error,
                     requested=self.requested, fallbacks=self.position, request_id=job.call.extra.get("request_id"))
            raise error
        if _wanted(hooks.llmplex_on_retry):
            hooks.llmplex_on_retry(call=self.observed(job), error=error, delay=delay)
        log_retry(job.call, error, delay)
        self.attempt += 1
        return delay

    def succeeded(self, job: Attempt, response: ChatResponse) -> ChatResponse:
        """The reply of a successful attempt, stamped, settled with the limiter, hooked, logged."""
        client, provider, request, call = self.client, job.provider, job.request, job.call
        now = client.clock.monotonic()
        if response.latency is None:
            set_fields(response, attempts=self.attempt, warnings=self.dropped, fallbacks=self.failures,
                       latency=now - call.started)
        else:
            set_fields(response, attempts=self.attempt, warnings=self.dropped, fallbacks=self.failures)
        usage = response.usage
        if job.estimated_tokens and usage is not None and usage.total_tokens > 0:
            client.limiter.settle(provider.name, request.model, job.estimated_tokens, usage.total_tokens)
        hooks = client.plugins.hook
        if _wanted(hooks.llmplex_after_response):
            hooks.llmplex_after_response(call=self.observed(job), response=response)
        log_call(call, latency=now - self.started, response=response, requested=self.requested,
                 fallbacks=self.position, request_id=call.extra.get("request_id"))
        return response


class Outcome:
    """Where a stream's driver leaves the reply. The stream object and its driver generator
    share it, so the generator holds no reference to the stream (no cycle: a stream dropped
    half-read is closed at once, not at the next garbage collection)."""

    __slots__ = ("response",)

    def __init__(self) -> None:
        self.response: Optional[ChatResponse] = None


def _wanted(hook: Any) -> bool:
    """Whether an observer hook has an implementation (a relay without ``wanted``, e.g. a
    test's own, is always called)."""
    return bool(getattr(hook, "wanted", True))


def _clamped(timeouts: Timeouts, remaining: Optional[float]) -> Timeouts:
    """``timeouts.clamped(remaining)``, without a new (re-checked) Timeouts when both already
    fit in what is left."""
    if remaining is None or (remaining >= timeouts.connect and remaining >= timeouts.read):
        return timeouts
    return timeouts.clamped(remaining)


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
