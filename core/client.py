"""The client: resolve a model, build the request, send it, retry, fall back, parse.

::

    client = llmplex.Client()
    reply = client.chat("deepseek/deepseek-chat", [{"role": "user", "content": "Hi"}])
    for chunk in client.stream("openai/gpt-4o-mini", messages):
        print(chunk.text, end="")
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .clock import Clock, SystemClock
from .config import Config, ConfigSource
from .errors import (
    PARSE_FAILURES,
    ConfigError,
    ConnectionError,
    LLMError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TimeoutError,
)
from .observe import CallInfo, log_call, redact_wire
from .plugins import Plugins, default_plugins
from .provider import Provider, Token, WireRequest, WireResponse
from .ratelimit import RateLimiter
from .redact import Redactor
from .request import ChatRequest
from .response import ChatChunk, ChatResponse, StreamAccumulator
from .retry import RetryPolicy
from .transport.http import HttpTransport, Timeouts
from .validation import make_request

__all__ = ["Client", "ChatStream"]

#: Errors after which the next model of a fallback chain is tried.
FALLBACK_ON: Tuple[type, ...] = (RateLimitError, ServerError, TimeoutError, ConnectionError)
_CALL_OPTIONS = ("timeout", "max_retries")
# Refresh a token this many seconds before the vendor says it expires.
_TOKEN_MARGIN = 60.0


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
    ) -> None:
        self.config = Config.load(config)
        self.clock: Clock = clock or SystemClock()
        self.plugins = plugins or default_plugins()
        self._http = transport
        self._ws: Any = None
        defaults = self.config.defaults
        self.retry = retry or RetryPolicy(max_retries=int(defaults.get("max_retries", RetryPolicy.max_retries)))
        self.timeouts = timeouts or _timeouts_from(defaults, Timeouts())
        self.redactor = Redactor()
        self.limiter = RateLimiter(self.clock)
        self._providers: Dict[str, Provider] = {}
        self._tokens: Dict[str, Token] = {}
        self._lock = threading.Lock()

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
            from .transport.websocket import WebSocketTransport

            self._ws = WebSocketTransport()
        return self._ws

    # -- providers ---------------------------------------------------------------------------
    def provider(self, name: str) -> Provider:
        """The provider instance for a configured or registered name (credentials resolved)."""
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
            if isinstance(limits, dict):
                self.limiter.configure(name, limits)
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

        Print it with :meth:`WireRequest` fields, or ``client.redacted(wire)`` to mask secrets.
        """
        _pop_call_options(params)
        provider, vendor_model = self._split(self.config.resolve_model(model)[0])
        request = make_request(vendor_model, messages, stream=stream, **params)
        return self._build(provider, request)

    def redacted(self, wire: WireRequest) -> WireRequest:
        """``wire`` with every known secret masked (for printing and logs)."""
        return redact_wire(wire, self.redactor)

    def chat(self, model: str, messages: Any, **params: Any) -> ChatResponse:
        """Send a conversation, return the whole reply. ``model`` is ``provider/model`` or an alias."""
        options = _pop_call_options(params)
        chain = self.config.resolve_model(model)
        errors: List[LLMError] = []
        for position, target in enumerate(chain):
            provider, vendor_model = self._split(target)
            request = make_request(vendor_model, messages, **params)
            try:
                return self._with_retries(provider, request, options, self._chat_once)
            except LLMError as exc:
                errors.append(exc)
                if position + 1 < len(chain) and isinstance(exc, FALLBACK_ON):
                    continue
                raise
        raise errors[-1]  # pragma: no cover - the loop always returns or raises

    def stream(self, model: str, messages: Any, **params: Any) -> ChatStream:
        """Stream a reply. Iterate for ``ChatChunk``s; ``.response`` holds the assembled reply."""
        options = _pop_call_options(params)
        chain = self.config.resolve_model(model)
        return ChatStream(self, chain, messages, params, options)

    def batch(
        self, model: str, conversations: Sequence[Any], *, max_workers: int = 4, **params: Any
    ) -> List[Union[ChatResponse, LLMError]]:
        """Run many conversations concurrently; each slot holds a reply or the error it raised."""

        def one(messages: Any) -> Union[ChatResponse, LLMError]:
            try:
                return self.chat(model, messages, **params)
            except LLMError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            return list(pool.map(one, conversations))

    async def achat(self, model: str, messages: Any, **params: Any) -> ChatResponse:
        """``chat`` for asyncio code (runs the blocking call in a worker thread)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self.chat(model, messages, **params))

    async def astream(self, model: str, messages: Any, **params: Any) -> AsyncIterator[ChatChunk]:
        """``stream`` for asyncio code: chunks are produced in a worker thread."""
        loop = asyncio.get_running_loop()
        stream = self.stream(model, messages, **params)
        iterator = iter(stream)
        done = object()
        while True:
            chunk = await loop.run_in_executor(None, next, iterator, done)
            if chunk is done:
                return
            yield chunk  # type: ignore[misc]

    # -- one attempt -------------------------------------------------------------------------
    def _build(self, provider: Provider, request: ChatRequest) -> WireRequest:
        token = self._token(provider)
        try:
            return provider.build_request(request, now=self.clock.now(), token=token)
        except LLMError as exc:
            raise self._finish_error(exc, provider, request, 1)

    def _token(self, provider: Provider) -> Optional[str]:
        now = self.clock.now()
        cached = self._tokens.get(provider.name)
        if cached is not None and cached.expires_at - _TOKEN_MARGIN > now:
            return cached.value
        exchange = provider.token_request(now=now)
        if exchange is None:
            return None
        response = self.http.send(exchange, self.timeouts)
        if response.status >= 400:
            raise provider.map_error(response, ChatRequest(model="-", messages=[{"role": "user", "content": "-"}]))
        token = provider.parse_token(response, now=now)
        self.redactor.add(token.value)
        self._tokens[provider.name] = token
        return token.value

    def _with_retries(
        self,
        provider: Provider,
        request: ChatRequest,
        options: Dict[str, Any],
        once: Callable[[Provider, ChatRequest, CallInfo, Timeouts], ChatResponse],
    ) -> ChatResponse:
        policy = self._policy(provider, options)
        timeouts = self._timeouts(provider, options)
        attempt = 1
        while True:
            call = CallInfo(provider.name, request.model, attempt, request.stream, None, request, self.clock.monotonic())
            try:
                response = once(provider, request, call, timeouts)
                response.attempts = attempt
                latency = self.clock.monotonic() - call.started
                if response.latency is None:
                    response.latency = latency
                self.plugins.hook.llmplex_after_response(call=call, response=response)
                log_call(call, latency=latency, response=response)
                return response
            except LLMError as exc:
                error = self._finish_error(exc, provider, request, attempt)
                self.plugins.hook.llmplex_on_error(call=call, error=error)
                delay = policy.delay(error, attempt)
                if delay is None:
                    log_call(call, latency=self.clock.monotonic() - call.started, error=error)
                    raise error from exc.__cause__
                self.plugins.hook.llmplex_on_retry(call=call, error=error, delay=delay)
                self.clock.sleep(delay)
                attempt += 1

    def _chat_once(self, provider: Provider, request: ChatRequest, call: CallInfo, timeouts: Timeouts) -> ChatResponse:
        if not provider.supports_non_streaming:
            streamed = request.model_copy(update={"stream": True})
            with ExitStack() as stack:
                accumulator = StreamAccumulator(provider=provider.name, model=request.model)
                for chunk in self._stream_once(provider, streamed, call, timeouts, stack, accumulator):
                    pass
                return accumulator.response()
        wire = self._send_prelude(provider, request, call)
        deadline = self._deadline(timeouts)
        response = self.http.send(wire, timeouts, deadline=deadline)
        if response.status >= 400:
            raise provider.map_error(response, request)
        try:
            return provider.parse_response(response, request)
        except LLMError:
            raise
        except PARSE_FAILURES as exc:
            raise ProtocolError(
                f"{provider.name} reply could not be parsed: {type(exc).__name__}: {exc}", raw=response.body
            ) from None

    def _send_prelude(self, provider: Provider, request: ChatRequest, call: CallInfo) -> WireRequest:
        self.limiter.acquire(provider.name, request.model)
        wire = self._build(provider, request)
        call.wire = redact_wire(wire, self.redactor)
        self.plugins.hook.llmplex_before_request(call=call)
        return wire

    def _stream_once(
        self,
        provider: Provider,
        request: ChatRequest,
        call: CallInfo,
        timeouts: Timeouts,
        stack: ExitStack,
        accumulator: StreamAccumulator,
    ) -> Iterator[ChatChunk]:
        """Chunks of one attempt; on error the accumulator still holds what arrived."""
        wire = self._send_prelude(provider, request, call)
        parser = provider.stream_parser(request)
        deadline = self._deadline(timeouts)
        try:
            if wire.framing == "websocket":
                from .transport.websocket import HandshakeRejected

                try:
                    frames = stack.enter_context(self.websocket.open(wire, timeouts))
                except HandshakeRejected as rejected:
                    raise provider.map_error(rejected.response, request) from None
                events: Iterator[Any] = frames
            else:
                http_stream = stack.enter_context(self.http.open_stream(wire, timeouts))
                if http_stream.status >= 400:
                    body = http_stream.read_all()
                    raise provider.map_error(WireResponse(http_stream.status, http_stream.headers, body), request)
                events = _decoded(http_stream.chunks, wire.framing)
            for event in events:
                for chunk in parser.feed(event):
                    accumulator.add(chunk)
                    yield chunk
                if parser.done:
                    break
                if deadline is not None:
                    deadline()
            for chunk in parser.close():
                accumulator.add(chunk)
                yield chunk
        except LLMError as exc:
            if accumulator.chunks:
                exc.partial = accumulator.response(strict=False)
            raise
        except PARSE_FAILURES as exc:
            error = ProtocolError(f"{provider.name} stream could not be parsed: {type(exc).__name__}: {exc}")
            if accumulator.chunks:
                error.partial = accumulator.response(strict=False)
            raise error from None

    # -- helpers -----------------------------------------------------------------------------
    def _deadline(self, timeouts: Timeouts) -> Optional[Callable[[], None]]:
        if timeouts.total is None:
            return None
        limit = self.clock.monotonic() + timeouts.total
        total = timeouts.total

        def check() -> None:
            if self.clock.monotonic() > limit:
                raise TimeoutError(f"call exceeded its total deadline of {total} s")

        return check

    def _policy(self, provider: Provider, options: Dict[str, Any]) -> RetryPolicy:
        retries = options.get("max_retries", provider.settings.options.get("max_retries"))
        if retries is None:
            return self.retry
        return RetryPolicy(
            max_retries=int(retries),
            initial_delay=self.retry.initial_delay,
            max_delay=self.retry.max_delay,
            max_retry_after=self.retry.max_retry_after,
            jitter=self.retry.jitter,
        )

    def _timeouts(self, provider: Provider, options: Dict[str, Any]) -> Timeouts:
        timeouts = _timeouts_from(provider.settings.options, self.timeouts)
        value = options.get("timeout")
        if isinstance(value, Timeouts):
            return value
        if value is not None:
            return Timeouts(connect=timeouts.connect, read=float(value), total=timeouts.total)
        return timeouts

    def _finish_error(self, error: LLMError, provider: Provider, request: ChatRequest, attempt: int) -> LLMError:
        error.with_context(provider=provider.name, model=request.model)
        error.attempts = attempt
        clean = self.redactor.text(error.message)
        if clean != error.message:
            error.message = clean
            error.args = (clean,)
        if isinstance(error.raw, str):
            error.raw = self.redactor.text(error.raw)
        elif isinstance(error.raw, bytes):
            text = error.raw.decode("utf-8", "replace")
            masked = self.redactor.text(text)
            if masked != text:
                error.raw = masked.encode("utf-8")
        return error


def _decoded(chunks: Iterator[bytes], framing: str) -> Iterator[Any]:
    if framing == "ndjson":
        from .transport.ndjson import NDJSONDecoder

        ndjson = NDJSONDecoder()
        for chunk in chunks:
            yield from ndjson.feed(chunk)
        yield from ndjson.close()
        return
    from .transport.sse import SSEDecoder

    sse = SSEDecoder()
    for chunk in chunks:
        yield from sse.feed(chunk)
    yield from sse.close()


def _pop_call_options(params: Dict[str, Any]) -> Dict[str, Any]:
    return {k: params.pop(k) for k in _CALL_OPTIONS if k in params}


def _timeouts_from(options: Any, base: Timeouts) -> Timeouts:
    def get(key: str, default: Optional[float]) -> Optional[float]:
        value = options.get(key) if hasattr(options, "get") else None
        return float(value) if value is not None else default

    return Timeouts(
        connect=get("connect_timeout", base.connect) or base.connect,
        read=get("timeout", base.read) or base.read,
        total=get("total_timeout", base.total),
    )


class ChatStream:
    """An iterable of ChatChunks; after iteration, ``response`` is the assembled ChatResponse.

    Retries and fallbacks apply only until the first chunk reaches the caller.
    """

    def __init__(
        self, client: Client, chain: List[str], messages: Any, params: Dict[str, Any], options: Dict[str, Any]
    ) -> None:
        self._client = client
        self._chain = chain
        self._messages = messages
        self._params = params
        self._options = options
        self.response: Optional[ChatResponse] = None
        self._started = False

    def __iter__(self) -> Iterator[ChatChunk]:
        if self._started:
            raise RuntimeError("a ChatStream can be iterated once")
        self._started = True
        return self._run()

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""

    def _run(self) -> Iterator[ChatChunk]:
        client = self._client
        for position, target in enumerate(self._chain):
            provider, vendor_model = client._split(target)
            request = make_request(vendor_model, self._messages, stream=True, **self._params)
            policy = client._policy(provider, self._options)
            timeouts = client._timeouts(provider, self._options)
            attempt = 1
            while True:
                call = CallInfo(provider.name, request.model, attempt, True, None, request, client.clock.monotonic())
                accumulator = StreamAccumulator(provider=provider.name, model=request.model)
                delivered = 0
                try:
                    with ExitStack() as stack:
                        for chunk in client._stream_once(provider, request, call, timeouts, stack, accumulator):
                            delivered += 1
                            yield chunk
                    response = accumulator.response()
                    response.attempts = attempt
                    response.latency = client.clock.monotonic() - call.started
                    self.response = response
                    client.plugins.hook.llmplex_after_response(call=call, response=response)
                    log_call(call, latency=response.latency, response=response)
                    return
                except LLMError as exc:
                    error = client._finish_error(exc, provider, request, attempt)
                    client.plugins.hook.llmplex_on_error(call=call, error=error)
                    # Once the caller has seen a chunk, a retry would duplicate text: never.
                    delay = None if delivered else policy.delay(error, attempt)
                    if delay is None:
                        log_call(call, latency=client.clock.monotonic() - call.started, error=error)
                        if not delivered and position + 1 < len(self._chain) and isinstance(error, FALLBACK_ON):
                            break
                        raise error from exc.__cause__
                    client.plugins.hook.llmplex_on_retry(call=call, error=error, delay=delay)
                    client.clock.sleep(delay)
                    attempt += 1
