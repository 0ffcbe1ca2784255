"""The client: resolve a model, build the request, send it, retry, fall back, parse.

::

    client = llmplex.Client()
    reply = client.chat("deepseek/deepseek-chat", [{"role": "user", "content": "Hi"}])
    for chunk in client.stream("openai/gpt-4o-mini", messages):
        print(chunk.text, end="")

One set of rules (:class:`~llmplex.client.callloop.CallLoop`) drives every call, streamed or
not: for each entry of the model's fallback chain, attempts are made under that entry's
:class:`~llmplex.client.retry.RetryPolicy` until one succeeds, the error is final, or the
call's total deadline is spent. A streamed call is never retried nor moved to a fallback once a chunk has reached the caller.

Per-call options, popped from the call's keyword arguments before the request is validated:
``timeout`` (read timeout in seconds, or a whole :class:`Timeouts`), ``total_timeout``,
``max_retries``, ``retry`` (a :class:`RetryPolicy`), ``rate_limit_wait`` (bool) and ``strict``
(bool: refuse what the model's capabilities would drop; see ``llmplex.provider.capabilities``).
Precedence: call, then the provider's own config table, then ``Client(retry=, timeouts=)``,
then ``[defaults]``, then the built-in defaults (``docs/reliability.md``).
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Dict, Generator, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ..clock import Clock, SystemClock, seconds_text
from .config import Config, ConfigSource
from ..errors import (
    MAX_RAW,
    PARSE_FAILURES,
    ConfigError,
    ConnectionError,
    InvalidRequestError,
    LLMError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
)
from ..provider.error_mapping import parse_retry_after
from .observe import logger, redact_wire
from ..plugins.manager import Plugins, default_plugins
from ..provider.capabilities import Capabilities, admit, strict_option
from ..provider.wire import vendor_fault
from ..provider.contract import Provider, ProviderSettings, WireRequest, WireResponse
from .ratelimit import RateLimiter, estimate_tokens
from .redact import Redactor, install_log_filters, scrub_error
from .tokens import TokenCache, exchange_call
from ..schema.request import ChatRequest
from ..schema.accumulator import StreamAccumulator
from ..schema.response import ChatChunk, ChatResponse, FallbackFailure
from .retry import Deadline, RetryPolicy, server_says_retry, set_should_retry, should_retry_hint
from .answers import keep_raw, masked, stamp_reply, stamp_stream, with_call_headers
from .callloop import FALLBACK_ON, Attempt, CallLoop, Outcome, _assembled, _partial
from .settings import _own, call_policy, call_timeouts, policy_from, pop_call_options, timeouts_from
from ..transport.framing import bounded, decoded, sniff
from ..transport.http import HttpTransport, Timeouts, html_page_error
from ..transport.limits import Limits
from ..schema.validation import make_request

if TYPE_CHECKING:
    from ..conversation.toolloop import RunResult
    from ..transport.ahttp import AsyncHttpTransport
    from .aio import AsyncChatStream

__all__ = ["Client", "ChatStream", "FALLBACK_ON"]

# How much of an unparseable body an error keeps (every error's raw is capped there anyway).
_RAW_LIMIT = MAX_RAW
# The one-attempt helpers' name for an attempt (the loop's rules live in callloop).
_Attempt = Attempt
# Call options that change a call's retry policy or timeouts (see Client._call_settings).
_SETTING_OPTIONS = ("retry", "max_retries", "timeout", "total_timeout")


def _aio() -> Any:
    """:mod:`llmplex.client.aio`, imported by the first asyncio call (never by a sync user)."""
    global _aio_module
    if _aio_module is None:
        from . import aio

        _aio_module = aio
    return _aio_module


_aio_module: Any = None


class Client:
    """Talks to every configured provider through one schema. Thread-safe; reuse one."""

    def __init__(
        self,
        config: ConfigSource = None,
        clock: Optional[Clock] = None,
        *,
        plugins: Optional[Plugins] = None,
        transport: Optional[HttpTransport] = None,
        retry: Optional[RetryPolicy] = None,
        timeouts: Optional[Timeouts] = None,
        strict: Optional[bool] = None,
    ) -> None:
        self.config = Config.load(config)
        #: Refuse, instead of dropping with a warning, what a model's capabilities drop.
        self.strict = strict
        self.clock: Clock = clock or SystemClock()
        self.plugins = plugins or default_plugins()
        self._http = transport
        self._ws: Any = None
        self._ahttp: Optional[AsyncHttpTransport] = None
        self._aws: Any = None
        defaults = self.config.defaults
        self.retry = retry or policy_from(defaults, RetryPolicy(), "defaults")
        self.timeouts = timeouts or timeouts_from(defaults, Timeouts())
        self.redactor = Redactor()
        self.limiter = RateLimiter(self.clock)
        self._providers: Dict[str, Provider] = {}
        #: Each provider's ``limits`` table (None: the transports' defaults).
        self._limits: Dict[str, Optional[Limits]] = {}
        self._tokens = TokenCache(self.clock.now, self.redactor)
        self._warned: Set[Tuple[str, str]] = set()
        # Per provider: (self.retry, self.timeouts, policy, timeouts) of a call without retry or
        # timeout options, and whether it exchanges tokens (see _call_settings, _token).
        self._settings: Dict[str, Tuple[RetryPolicy, Timeouts, RetryPolicy, Timeouts]] = {}
        self._exchanges: Dict[str, bool] = {}
        self._strict: Dict[str, Tuple[Optional[bool], bool]] = {}
        self._lock = threading.Lock()
        # urllib3 and websockets print request lines and headers at DEBUG: mask secrets there.
        install_log_filters()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def __repr__(self) -> str:
        return f"Client(config={self.config!r}, providers={sorted(self._providers)})"

    @property
    def http(self) -> HttpTransport:
        if self._http is None:
            self._http = HttpTransport()
        return self._http

    @property
    def websocket(self) -> Any:
        if self._ws is None:
            from ..transport.websocket import WebSocketTransport

            self._ws = WebSocketTransport()
        return self._ws

    # -- providers ---------------------------------------------------------------------------
    def provider(self, name: str) -> Provider:
        """The provider instance for a configured or registered name (credentials resolved)."""
        found = self._providers.get(name)  # made once, then only read: no lock needed
        if found is not None:
            return found
        with self._lock:
            found = self._providers.get(name)
            if found is not None:
                return found
            registered = self.plugins.get(self.config.implementation_of(name))
            settings = self.config.settings_for(name, registered.spec)
            provider = registered.spec.factory(settings)
            for secret in provider.secrets():
                self.redactor.add(secret)
            limits = settings.options.get("rate_limit")
            if limits is not None:
                if not isinstance(limits, Mapping):
                    where = f"providers.{name}.rate_limit"
                    raise ConfigError(f"{where} must be a table", field=where)
                self.limiter.configure(name, limits)
            self._limits[name] = Limits.layered([
                (registered.spec.default_options.get("limits"), f"the {name} provider's default limits"),
                (self.config.defaults.get("limits"), "defaults.limits"),
                (settings.options.get("limits"), f"providers.{name}.limits"),
            ])
            # Surface a bad retry or timeout table now, not at the first failure.
            call_policy(provider, self.config.defaults, self.retry, {})
            call_timeouts(provider, self.config.defaults, self.timeouts, {})
            self._providers[name] = provider
            return provider

    def _split(self, target: str) -> Tuple[Provider, str]:
        provider_name, _, model = target.partition("/")
        if not model:
            raise ConfigError(f"model {target!r} must be 'provider/model'", field="model")
        return self.provider(provider_name), model

    # -- public calls ------------------------------------------------------------------------
    def prepare(self, model: str, messages: Any, *, stream: bool = False, **params: Any) -> WireRequest:
        """The exact request that would be sent (signed, with credentials), without sending it.

        Print it with ``client.redacted(wire)`` to mask secrets. A provider with a token
        exchange fetches (or reuses) its token here.
        """
        options = pop_call_options(params)
        provider, vendor_model = self._split(self.config.resolve_model(model)[0])
        params = self.config.call_params(model, 0, provider.name, params)
        request = make_request(vendor_model, messages, stream=stream, **params)
        # The call options are checked as chat() checks them, though nothing is sent.
        call_policy(provider, self.config.defaults, self.retry, options)
        call_timeouts(provider, self.config.defaults, self.timeouts, options)
        keep_raw(options)
        try:
            request, dropped = self._admit(provider, request, options)
            return replace(self._build(provider, request, self.timeouts), warnings=tuple(dropped))
        except LLMError as exc:
            raise self._finish_error(exc, provider, request, 1, None)

    def capabilities(self, model: str) -> Capabilities:
        """What ``model`` (``provider/model`` or an alias: its first chain entry) supports.

        Needs no credentials: a provider that is not configured is asked with none."""
        target = self.config.resolve_model(model)[0]
        try:
            provider, vendor_model = self._split(target)
        except ConfigError:
            name, _, vendor_model = target.partition("/")
            if not vendor_model:
                raise
            spec = self.plugins.get(self.config.implementation_of(name)).spec  # unknown names raise here
            provider = spec.factory(ProviderSettings(name=name, base_url=spec.default_base_url))
        return provider.capabilities_for(vendor_model)

    def _shown(self, value: Optional[str]) -> Optional[str]:
        """``value`` (a vendor's header, e.g. a request id) masked for hooks and logs."""
        return None if value is None else self.redactor.text(value)

    def redacted(self, wire: WireRequest) -> WireRequest:
        """``wire`` with every known secret masked (for printing and logs)."""
        return redact_wire(wire, self.redactor)

    def chat(self, model: str, messages: Any, **params: Any) -> ChatResponse:
        """Send a conversation, return the whole reply. ``model`` is ``provider/model`` or an alias.

        ``reply.provider`` and ``reply.model`` say which chain entry answered. With
        ``response_model=SomeModel``, ``reply.parsed`` is a validated instance
        (``llmplex.conversation.structured``; ``structured_mode``, ``max_repairs``).
        """
        if params.get("response_model") is not None:
            from ..conversation import structured

            return structured.chat(self, model, messages, **params)
        options = pop_call_options(params, method="chat")
        plan = CallLoop(self, self.config.resolve_model(model), model, messages, params, options, stream=False)
        while True:
            job = plan.begin()
            try:
                plan.check()
                response = self._chat_once(job)
            except LLMError as exc:
                delay = plan.failed(exc, job, 0)
                if delay is not None:
                    self.clock.sleep(delay)
                continue
            return plan.succeeded(job, response)

    def stream(self, model: str, messages: Any, **params: Any) -> ChatStream:
        """Stream a reply. Iterate for ``ChatChunk``s; ``.response`` holds the assembled reply."""
        if params.get("response_model") is not None:
            raise InvalidRequestError(
                "response_model: structured output validates the whole reply; use chat(), not stream()",
                field="response_model",
            )
        options = pop_call_options(params, method="stream")
        return ChatStream(self, self.config.resolve_model(model), messages, params, options, requested=model)

    def run(
        self, model: str, messages: Any, *, tools: Sequence[Any], max_steps: int = 10, parallel: bool = True,
        **params: Any,
    ) -> RunResult:
        """The tool loop: call the model, run the Python functions it asks for, repeat until it
        answers; returns the answer with every step (``llmplex.conversation.toolloop``).

        ``tools`` are functions (or Tools with one); ``on_step=callback`` sees each step as it
        ends. Raises ``MaxStepsError`` (with ``.trace``) when the model still calls tools after
        ``max_steps`` model calls.
        """
        from ..conversation import toolloop

        return toolloop.run(self, model, messages, tools, max_steps=max_steps, parallel=parallel, **params)

    async def arun(
        self, model: str, messages: Any, *, tools: Sequence[Any], max_steps: int = 10, parallel: bool = True,
        **params: Any,
    ) -> RunResult:
        """``run`` for asyncio code: ``async def`` tools run on the event loop."""
        from ..conversation import toolloop

        return await toolloop.arun(self, model, messages, tools, max_steps=max_steps, parallel=parallel, **params)

    def batch(
        self, model: str, conversations: Sequence[Any], *, concurrency: Optional[int] = None,
        progress: Optional[Callable[[int, int], Any]] = None, max_workers: Optional[int] = None, **params: Any,
    ) -> List[Union[ChatResponse, LLMError]]:
        """Run many conversations through ``chat``, at most ``concurrency`` at once (default 4;
        ``max_workers`` is its older name); each slot holds the reply or the error it raised, in
        order. ``progress(done, total)`` is called as each ends (``llmplex.client.batch``)."""
        from .batch import run_conversations

        if concurrency is not None and max_workers is not None and concurrency != max_workers:
            raise InvalidRequestError("concurrency: pass concurrency or its older name max_workers, not both",
                                      field="concurrency")
        workers = concurrency if concurrency is not None else max_workers if max_workers is not None else 4
        return run_conversations(self, model, conversations, concurrency=workers, progress=progress, **params)

    async def achat(self, model: str, messages: Any, **params: Any) -> ChatResponse:
        """``chat`` for asyncio code, on the event loop (no thread): the same retries, deadlines,
        rate limits, fallbacks, hooks and errors (``docs/async.md``)."""
        if params.get("response_model") is not None:
            import asyncio  # only async callers pay for it: asyncio costs ~30 ms to import

            # Structured output's repair loop is synchronous; it runs in a worker thread.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, lambda: self.chat(model, messages, **params))
        if not self._native_async:
            import asyncio

            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, lambda: self.chat(model, messages, **params))
        options = pop_call_options(params, method="chat")
        reply: ChatResponse = await _aio().achat(self, self.config.resolve_model(model), model, messages, params, options)
        return reply

    def astream(self, model: str, messages: Any, **params: Any) -> AsyncChatStream:
        """``stream`` for asyncio code: ``async for chunk in client.astream(...)``; afterwards
        ``.response`` holds the reply. Leaving the loop early closes the connection."""
        if params.get("response_model") is not None:
            raise InvalidRequestError(
                "response_model: structured output validates the whole reply; use achat(), not astream()",
                field="response_model",
            )
        if not self._native_async:
            from .aio import ThreadedChatStream

            return ThreadedChatStream(self.stream(model, messages, **params))
        options = pop_call_options(params, method="stream")
        from .aio import AsyncChatStream

        return AsyncChatStream(self, self.config.resolve_model(model), messages, params, options, requested=model)

    async def aprepare(self, model: str, messages: Any, *, stream: bool = False, **params: Any) -> WireRequest:
        """``prepare`` for asyncio code: a token exchange, if the provider needs one, runs on the
        event loop."""
        options = pop_call_options(params)
        provider, vendor_model = self._split(self.config.resolve_model(model)[0])
        params = self.config.call_params(model, 0, provider.name, params)
        request = make_request(vendor_model, messages, stream=stream, **params)
        call_policy(provider, self.config.defaults, self.retry, options)
        call_timeouts(provider, self.config.defaults, self.timeouts, options)
        keep_raw(options)
        from . import aio
        from .observe import CallInfo
        from .retry import Deadline

        try:
            request, dropped = self._admit(provider, request, options)
            call = CallInfo(provider.name, request.model, 1, stream, None, request, self.clock.monotonic())
            job = _Attempt(provider, request, call, self.timeouts, Deadline(self.clock, None), None)
            token = await aio.aprepare_token(self, job)
            wire = with_call_headers(provider.build_request(request, now=self.clock.now(), token=token), request,
                                     provider.name)
            return replace(wire.masked_by(self.redactor), warnings=tuple(dropped))
        except LLMError as exc:
            raise self._finish_error(exc, provider, request, 1, None)

    async def abatch(
        self, model: str, conversations: Sequence[Any], *, concurrency: int = 8,
        progress: Optional[Callable[[int, int], Any]] = None, **params: Any,
    ) -> List[Union[ChatResponse, LLMError]]:
        """``batch`` for asyncio code: every conversation through ``achat``, at most
        ``concurrency`` at once; each slot holds the reply or the error it raised, in order.
        ``progress(done, total)`` (a function or a coroutine function) is called as each ends."""
        from . import aio

        return await aio.abatch(self, model, conversations, concurrency=concurrency, progress=progress, params=params)

    @property
    def _native_async(self) -> bool:
        """False for a client given a synchronous ``transport=`` of its own (a test double):
        its asyncio calls then run that transport in worker threads."""
        return self._http is None or type(self._http) is HttpTransport

    @property
    def ahttp(self) -> AsyncHttpTransport:
        """The asyncio HTTP transport, made on first use."""
        if self._ahttp is None:
            from ..transport.ahttp import AsyncHttpTransport

            self._ahttp = AsyncHttpTransport()
        return self._ahttp

    @property
    def awebsocket(self) -> Any:
        if self._aws is None:
            from ..transport.awebsocket import AsyncWebSocketTransport

            self._aws = AsyncWebSocketTransport()
        return self._aws

    async def aclose(self) -> None:
        """Close the asyncio connection pool (of the running loop) and the sync one."""
        if self._ahttp is not None:
            await self._ahttp.aclose()
        self.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # -- one attempt -------------------------------------------------------------------------
    def _chat_once(self, job: _Attempt) -> ChatResponse:
        provider, request = job.provider, job.request
        if not provider.capabilities_for(request.model).non_streaming:
            # The attempt streams the same request (what it sent, its token and its limiter
            # slot stay on ``job``, for the hooks and the settlement).
            job.request = request.model_copy(update={"stream": True})
            accumulator = StreamAccumulator(provider=provider.name, model=request.model)
            try:
                with ExitStack() as stack:
                    for _ in self._stream_once(job, stack, accumulator):
                        pass
            finally:
                job.request = request
            return _assembled(accumulator, provider.name)
        wire = self._send_prelude(job)
        response = self.http.send(wire, job.timeouts, deadline=job.deadline, limits=self._limits.get(provider.name),
                                  provider=provider.name)
        return self._chat_reply(job, response)

    def _chat_reply(self, job: _Attempt, response: WireResponse) -> ChatResponse:
        """The reply of a non-streamed attempt (either driver), or its typed error."""
        provider, request = job.provider, job.request
        request_id = job.call.extra["request_id"] = self._shown(response.request_id)
        if response.status >= 400:
            raise self._http_error(provider, response, request)
        page = html_page_error(provider.name, response)
        if page is not None:
            raise self._enrich(page, response)
        try:
            return stamp_reply(provider.parse_response(response, request), response, self.redactor, request_id)
        except LLMError as exc:
            raise self._enrich(vendor_fault(exc, provider.name), response)
        except PARSE_FAILURES as exc:
            raise ProtocolError(
                f"{provider.name} reply could not be parsed: {type(exc).__name__}: {exc}",
                raw=response.body[:_RAW_LIMIT],
            ) from None

    def _send_prelude(self, job: _Attempt) -> WireRequest:
        delay = self._reserve(job)
        if delay is not None:
            if delay > 0:
                self.clock.sleep(delay)
            # Waiting for a slot used up part of the budget.
            job.timeouts = job.timeouts.clamped(job.deadline.remaining())
        wire = self._build(job.provider, job.request, job.timeouts, job)
        self._announce(job, wire)
        return wire

    def _reserve(self, job: _Attempt) -> Optional[float]:
        """The client-side rate limiter's slot for ``job``: the seconds to wait before sending
        (None: the provider is not limited). Raises RateLimitError in fail-fast mode."""
        provider, request = job.provider, job.request
        if not self.limiter.limited(provider.name, request.model):
            return None
        job.estimated_tokens = estimate_tokens(request)
        return self.limiter.reserve(
            provider.name, request.model, job.estimated_tokens, wait=job.wait, max_wait=job.deadline.remaining()
        )

    def _announce(self, job: _Attempt, wire: WireRequest) -> None:
        job.wire = wire
        hook = self.plugins.hook.llmplex_before_request
        if getattr(hook, "wanted", True):
            job.call.wire = redact_wire(wire, self.redactor)
            hook(call=job.call)

    def _call_settings(self, provider: Provider, options: Mapping[str, Any]) -> Tuple[RetryPolicy, Timeouts]:
        """The retry policy and timeouts of a call to ``provider``: worked out once per provider
        for calls without their own ``retry``/``max_retries``/``timeout``/``total_timeout``
        (again if ``client.retry`` or ``client.timeouts`` is replaced)."""
        if options and any(key in options for key in _SETTING_OPTIONS):
            return (call_policy(provider, self.config.defaults, self.retry, options),
                    call_timeouts(provider, self.config.defaults, self.timeouts, options))
        cached = self._settings.get(provider.name)
        if cached is None or cached[0] is not self.retry or cached[1] is not self.timeouts:
            cached = (self.retry, self.timeouts, call_policy(provider, self.config.defaults, self.retry, {}),
                      call_timeouts(provider, self.config.defaults, self.timeouts, {}))
            self._settings[provider.name] = cached
        return cached[2], cached[3]

    def _stream_once(self, job: _Attempt, stack: ExitStack, accumulator: StreamAccumulator) -> Iterator[ChatChunk]:
        """Chunks of one attempt; on error the accumulator still holds what arrived."""
        provider, request = job.provider, job.request
        wire = self._send_prelude(job)
        parser = provider.stream_parser(request)
        headers: Mapping[str, str] = {}
        try:
            if wire.framing == "websocket":
                from ..transport.websocket import HandshakeRejected

                try:
                    frames = stack.enter_context(self.websocket.open(
                        wire, job.timeouts, deadline=job.deadline, limits=self._limits.get(provider.name),
                        provider=provider.name))
                except HandshakeRejected as rejected:
                    raise self._http_error(provider, rejected.response, request) from None
                events: Iterator[Any] = frames
            else:
                http_stream = stack.enter_context(
                    self.http.open_stream(wire, job.timeouts, deadline=job.deadline, provider=provider.name))
                headers = http_stream.headers
                if self._stream_opened(job, http_stream.status, headers, http_stream.request_id, accumulator):
                    failed = WireResponse(http_stream.status, http_stream.headers, http_stream.read_all(_RAW_LIMIT))
                    raise self._stream_refused(job, failed)
                chunks: Iterator[bytes] = http_stream.chunks
                if wire.framing == "sse":
                    head, chunks = sniff(chunks)
                    if head in (b"{", b"["):
                        body = bounded(chunks, self._max_body(provider))
                        for chunk in self._stream_as_reply(job, WireResponse(http_stream.status, headers, body)):
                            accumulator.add(chunk)
                            yield chunk
                        return
                events = decoded(chunks, wire.framing, self._limits.get(provider.name),
                                 stray_lines=bool(getattr(parser, "wants_stray_lines", False)))
            for event in events:
                for chunk in parser.feed(event):
                    accumulator.add(chunk)
                    yield chunk
                if parser.done:
                    break
            for chunk in parser.close():
                accumulator.add(chunk)
                yield chunk
        except LLMError as raised:
            raise self._stream_fault(job, raised, accumulator, headers)
        except PARSE_FAILURES as exc:
            raise self._stream_unparsed(job, exc, accumulator) from None

    # The rules of a streamed attempt, shared by the sync and the asyncio drivers (which differ
    # only in how they read).
    def _stream_opened(self, job: _Attempt, status: int, headers: Mapping[str, str], request_id: Optional[str],
                       accumulator: StreamAccumulator) -> bool:
        """Records the reply's ids; True when the reply is no stream (an error status or an
        HTML page): read its body, then raise :meth:`_stream_refused`."""
        job.call.extra["request_id"] = self._shown(request_id)
        stamp_stream(accumulator, request_id, headers, self.redactor)
        return status >= 400 or headers.get("content-type", "").lower().startswith("text/html")

    def _stream_refused(self, job: _Attempt, reply: WireResponse) -> LLMError:
        provider = job.provider
        if reply.status >= 400:
            return self._http_error(provider, reply, job.request)
        # A captive portal or a proxy's page: never a stream, and retrying will not help.
        return html_page_error(provider.name, reply, streamed=True) or ProtocolError(
            f"{provider.name} answered a stream request with text/html", status=reply.status, raw=reply.body)

    def _max_body(self, provider: Provider) -> int:
        sizes = self._limits.get(provider.name)
        return (sizes.max_body if sizes else None) or self.http.max_body

    def _stream_as_reply(self, job: _Attempt, whole: WireResponse) -> List[ChatChunk]:
        """A JSON document, not events: the vendor answered the stream request with a plain
        reply, typically an error (Hunyuan's auth failures, gateways). Parsed as the reply it is."""
        provider = job.provider
        try:
            reply = provider.parse_response(whole, job.request)
        except LLMError as exc:
            raise self._enrich(vendor_fault(exc, provider.name), whole) from None
        except PARSE_FAILURES as exc:
            raise ProtocolError(
                f"{provider.name} reply could not be parsed: {type(exc).__name__}: {exc}",
                raw=whole.body[:_RAW_LIMIT],
            ) from None
        return list(ChatChunk.from_choices(reply))

    def _stream_fault(self, job: _Attempt, raised: LLMError, accumulator: StreamAccumulator,
                      headers: Mapping[str, str]) -> LLMError:
        """The error a streamed attempt ends with, carrying what arrived as ``.partial``."""
        fault = vendor_fault(raised, job.provider.name)
        if accumulator.chunks:
            fault.partial = _partial(accumulator)
        return self._enrich(fault, WireResponse(200, headers)) if headers else fault

    def _stream_unparsed(self, job: _Attempt, exc: BaseException, accumulator: StreamAccumulator) -> LLMError:
        error = ProtocolError(f"{job.provider.name} stream could not be parsed: {type(exc).__name__}: {exc}")
        if accumulator.chunks:
            error.partial = accumulator.response(strict=False)
        return error

    def _admit(self, provider: Provider, request: ChatRequest, options: Mapping[str, Any]) -> Tuple[ChatRequest, List[str]]:
        """``request`` checked against the model's capabilities; drops are logged once per client."""
        strict = self._strict_for(provider, options.get("strict"))
        request, notes = admit(provider.capabilities_for(request.model), request, provider=provider.name, strict=strict)
        for note in notes:
            key = (provider.name, note.split(" ", 1)[0])
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("llmplex: %s: %s", provider.name, note)
        return request, notes

    def _strict_for(self, provider: Provider, chosen: Any) -> bool:
        """Strict mode for a call to ``provider``: the call's ``strict=`` if given, else the
        provider's, the client's or the defaults' (worked out once per provider, again if
        ``client.strict`` changes)."""
        defaults = self.config.defaults
        if chosen is not None:
            return strict_option(chosen, _own(provider, defaults, "strict"), self.strict, defaults.get("strict"))
        cached = self._strict.get(provider.name)
        if cached is None or cached[0] is not self.strict:
            cached = (self.strict, strict_option(None, _own(provider, defaults, "strict"), self.strict,
                                                 defaults.get("strict")))
            self._strict[provider.name] = cached
        return cached[1]

    def _build(self, provider: Provider, request: ChatRequest, timeouts: Timeouts,
               job: Optional[_Attempt] = None) -> WireRequest:
        token = self._token(provider, request, timeouts, job)
        if job is not None:
            job.token = token
        wire = with_call_headers(provider.build_request(request, now=self.clock.now(), token=token), request, provider.name)
        return masked(wire, self.redactor)  # its repr masks this client's secrets

    def _token(self, provider: Provider, request: ChatRequest, timeouts: Timeouts,
               job: Optional[_Attempt] = None) -> Optional[str]:
        """The provider's short-lived token (see :mod:`llmplex.client.tokens`); the exchange
        runs inside the attempt, with its timeouts, deadline and hooks."""
        if not self._exchanges_tokens(provider):
            return None

        def send(wire: WireRequest) -> WireResponse:
            hook = self.plugins.hook.llmplex_before_request
            if job is not None and getattr(hook, "wanted", True):
                hook(call=exchange_call(job.call, redact_wire(wire, self.redactor)))
            return self.http.send(wire, job.timeouts if job else timeouts, deadline=job.deadline if job else None,
                                  limits=self._limits.get(provider.name), provider=provider.name)

        return self._tokens.get(
            provider, send, lambda response: self._http_error(provider, response, request),
            wait=job.deadline.remaining() if job is not None else None,
        )

    def _exchanges_tokens(self, provider: Provider) -> bool:
        """False for a provider whose class has no token exchange (most): the token cache,
        its lock and its lookups are skipped for it."""
        found = self._exchanges.get(provider.name)
        if found is None:
            found = self._exchanges[provider.name] = type(provider).token_request is not Provider.token_request
        return found

    # -- errors ------------------------------------------------------------------------------
    def _http_error(self, provider: Provider, response: WireResponse, request: ChatRequest) -> LLMError:
        """The provider's error for a non-2xx reply, with what only the client knows added."""
        try:
            error = provider.map_error(response, request)
        except LLMError as raised:  # a provider should return it, but raising is understood
            error = raised
        except PARSE_FAILURES as exc:
            error = ProtocolError(
                f"{provider.name} error reply (HTTP {response.status}) could not be parsed: {type(exc).__name__}",
                status=response.status,
                raw=response.body[:_RAW_LIMIT],
            )
        error.with_context(status=response.status)
        return self._enrich(error, response)

    def _enrich(self, error: LLMError, response: WireResponse) -> LLMError:
        """Fill in request id, Retry-After (HTTP-date form needs the clock) and x-should-retry."""
        error.with_context(request_id=response.request_id)
        if error.raw is None and response.body:
            error.raw = response.body[:_RAW_LIMIT]
        if error.retry_after is None:
            error.retry_after = parse_retry_after(response.headers, now=self.clock.now())
        if should_retry_hint(error) is None:
            set_should_retry(error, server_says_retry(response.headers))
        return error

    def _finish_error(
        self, error: LLMError, provider: Provider, request: ChatRequest, attempt: int, deadline: Optional[Deadline]
    ) -> LLMError:
        error.with_context(provider=provider.name, model=request.model)
        error.attempts = attempt
        if isinstance(error, TimeoutError) and deadline is not None and deadline.expired:
            set_should_retry(error, False)
            if "total deadline" not in error.message:
                error.message = f"{error.message} (the call's total deadline of {seconds_text(deadline.seconds or 0)} is spent)"
                error.args = (error.message,)
        return scrub_error(error, self.redactor)


class ChatStream:
    """An iterable of ChatChunks; after iteration, ``response`` is the assembled ChatResponse.

    Retries and fallbacks apply only until the first chunk reaches the caller. Use it as a
    context manager (or call :meth:`close`) to release the connection when stopping early.
    """

    def __init__(
        self,
        client: Client,
        chain: List[str],
        messages: Any,
        params: Dict[str, Any],
        options: Dict[str, Any],
        *,
        requested: Optional[str] = None,
    ) -> None:
        self._client = client
        self._chain = chain
        self._messages = messages
        self._params = params
        self._options = options
        self._requested = requested or (chain[0] if chain else "")
        self._outcome = Outcome()
        self._started = False
        self._calls: Optional[Generator[ChatChunk, None, None]] = None
        # Set by close(); the iterating thread stops at its next step and releases the connection.
        self._closing = threading.Event()

    def __iter__(self) -> Iterator[ChatChunk]:
        if self._started:
            raise RuntimeError("a ChatStream can be iterated once")
        self._started = True
        self._calls = _stream_calls(self._client, self._closing, self._outcome, self._chain, self._requested,
                                    self._messages, self._params, self._options)
        return self._calls

    @property
    def response(self) -> Optional[ChatResponse]:
        """The assembled reply, once the stream has ended (None before, or if it failed)."""
        return self._outcome.response

    @response.setter
    def response(self, value: Optional[ChatResponse]) -> None:
        self._outcome.response = value

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the stream and release its connection (safe to call at any time, from any
        thread: from another one than the iterating thread, that thread's loop ends at the next
        chunk, and the connection is released there)."""
        self._closing.set()
        if self._calls is not None:
            try:
                self._calls.close()
            except ValueError:
                pass  # "generator already executing": another thread is inside next(); it stops itself

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""



def _stream_calls(client: Client, closing: threading.Event, outcome: Outcome, chain: List[str], requested: str,
                  messages: Any, params: Dict[str, Any], options: Dict[str, Any]) -> Generator[ChatChunk, None, None]:
    """A stream's driver: every attempt of the call, each chunk straight from the attempt to
    the caller (one generator between them); the reply goes to ``outcome``.

    Retries and fallbacks happen only while nothing has been yielded. ``close()`` from another
    thread (``closing``) is seen before and after each chunk."""
    if closing.is_set():
        return
    plan = CallLoop(client, chain, requested, messages, params, options, stream=True)
    while True:
        job = plan.begin()
        delivered = 0
        try:
            plan.check()
            accumulator = plan.accumulator(job)
            with ExitStack() as stack:
                for chunk in client._stream_once(job, stack, accumulator):
                    if closing.is_set():
                        return
                    delivered += 1
                    yield chunk
                    if closing.is_set():
                        return
            response = _assembled(accumulator, job.provider.name)
        except LLMError as exc:
            delay = plan.failed(exc, job, delivered)
            if delay is not None:
                client.clock.sleep(delay)
            continue
        outcome.response = plan.succeeded(job, response)
        return
