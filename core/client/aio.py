"""The asyncio driver of the client: the same :class:`~llmplex.client.callloop.CallLoop` as the
synchronous one, run with ``await`` on llmplex's asyncio transports.

Only the I/O differs from the synchronous drivers (``Client.chat``, ``ChatStream``): sends go through
:class:`~llmplex.transport.ahttp.AsyncHttpTransport` (llmplex's own HTTP/1.1 client) and
:class:`~llmplex.transport.awebsocket.AsyncWebSocketTransport`; waits (backoff, Retry-After, the
rate limiter's slot) are ``await``-ed; token exchanges queue on an asyncio lock. What an attempt
means (errors, partial text, retries, fallbacks, hooks, logs) is decided by the rules the sync
driver uses (``CallLoop`` and the ``Client._stream_*`` / ``_chat_reply`` helpers).

Imported on the first asyncio call, never by ``import llmplex``.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Dict, List, Optional, Sequence, Union

from ..clock import Clock, SystemClock
from ..errors import PARSE_FAILURES, LLMError
from ..provider.contract import WireRequest, WireResponse
from ..schema.accumulator import StreamAccumulator
from ..schema.response import ChatChunk, ChatResponse
from ..transport.limits import Limits
from .callloop import Attempt, CallLoop, Outcome, _assembled
from .answers import masked, with_call_headers
from .observe import redact_wire
from .tokens import exchange_call

# llmplex.client.client.Client (which imports this module lazily; see callloop).
Client = Any

__all__ = ["AsyncChatStream", "achat", "abatch", "aprepare_token", "asleep"]

_RAW_LIMIT = 65536


async def asleep(clock: Clock, seconds: float) -> None:
    """Wait ``seconds`` on the event loop with the real clock; an injected clock (tests'
    FixedClock) is asked to sleep instead, so retry tests stay instant."""
    if seconds <= 0:
        return
    if type(clock) is SystemClock:
        await asyncio.sleep(seconds)
    else:
        clock.sleep(seconds)


# -- the drivers -----------------------------------------------------------------------------
async def achat(client: Client, chain: List[str], requested: str, messages: Any, params: Dict[str, Any],
                options: Dict[str, Any]) -> ChatResponse:
    """A non-streamed call's driver (a stream's is :func:`_astream_calls`): plain
    coroutines, no generator between the caller and the transport."""
    plan = CallLoop(client, chain, requested, messages, params, options, stream=False)
    while True:
        job = plan.begin()
        try:
            plan.check()
            response = await _chat_once(client, job)
        except LLMError as exc:
            delay = plan.failed(exc, job, 0)
            if delay is not None:
                await asleep(client.clock, delay)
            continue
        return plan.succeeded(job, response)


# -- one attempt -----------------------------------------------------------------------------
async def _send_prelude(client: Client, job: Attempt) -> WireRequest:
    delay = client._reserve(job)
    if delay is not None:
        await asleep(client.clock, delay)
        job.timeouts = job.timeouts.clamped(job.deadline.remaining())
    provider, request = job.provider, job.request
    token = job.token = await _token(client, job) if client._exchanges_tokens(provider) else None
    wire = with_call_headers(provider.build_request(request, now=client.clock.now(), token=token), request,
                             provider.name)
    wire = masked(wire, client.redactor)
    client._announce(job, wire)
    return wire


async def _token(client: Client, job: Attempt) -> Optional[str]:
    provider = job.provider

    async def send(wire: WireRequest) -> WireResponse:
        hook = client.plugins.hook.llmplex_before_request
        if getattr(hook, "wanted", True):
            hook(call=exchange_call(job.call, redact_wire(wire, client.redactor)))
        response: WireResponse = await client.ahttp.send(
            wire, job.timeouts, deadline=job.deadline, limits=_limits(client, job), provider=provider.name)
        return response

    token: Optional[str] = await client._tokens.aget(
        provider, send, lambda response: client._http_error(provider, response, job.request),
        wait=job.deadline.remaining(),
    )
    return token


def _limits(client: Client, job: Attempt) -> Optional[Limits]:
    limits: Optional[Limits] = client._limits.get(job.provider.name)
    return limits


async def _chat_once(client: Client, job: Attempt) -> ChatResponse:
    provider, request = job.provider, job.request
    if not provider.capabilities_for(request.model).non_streaming:
        # As Client._chat_once: the attempt streams the same request.
        job.request = request.model_copy(update={"stream": True})
        accumulator = StreamAccumulator(provider=provider.name, model=request.model)
        try:
            async with AsyncExitStack() as stack:
                async for _ in _stream_once(client, job, stack, accumulator):
                    pass
        finally:
            job.request = request
        return _assembled(accumulator, provider.name)
    wire = await _send_prelude(client, job)
    response = await client.ahttp.send(wire, job.timeouts, deadline=job.deadline,
                                       limits=client._limits.get(provider.name), provider=provider.name)
    reply: ChatResponse = client._chat_reply(job, response)
    return reply


async def _sniffed(chunks: AsyncIterator[bytes], limit: int = 65536) -> Any:
    """``framing.sniff`` for an async body: the first non-blank byte and the chunks again."""
    seen: List[bytes] = []
    size = 0
    head = b""
    async for chunk in chunks:
        seen.append(chunk)
        size += len(chunk)
        stripped = chunk.lstrip()
        if stripped:
            head = stripped[:1]
            break
        if size > limit:
            break

    async def again() -> AsyncIterator[bytes]:
        seen.reverse()
        while seen:
            yield seen.pop()  # not kept once handed on: a stream's first read may be its whole body
        async for chunk in chunks:
            yield chunk

    return head, again()


async def _stream_once(client: Client, job: Attempt, stack: AsyncExitStack,
                       accumulator: StreamAccumulator) -> AsyncIterator[ChatChunk]:
    """``Client._stream_once`` on the asyncio transports (the same rules, in the same order)."""
    from ..transport.framing import event_decoder
    from ..errors import ProtocolError

    provider, request = job.provider, job.request
    wire = await _send_prelude(client, job)
    parser = provider.stream_parser(request)
    headers: Dict[str, str] = {}
    try:
        if wire.framing == "websocket":
            from ..transport.awebsocket import AsyncWebSocketTransport
            from ..transport.websocket import HandshakeRejected

            transport: AsyncWebSocketTransport = client.awebsocket
            try:
                frames = await stack.enter_async_context(transport.open(
                    wire, job.timeouts, deadline=job.deadline, limits=_limits(client, job), provider=provider.name))
            except HandshakeRejected as rejected:
                raise client._http_error(provider, rejected.response, request) from None
            async for frame in frames:
                for chunk in parser.feed(frame):
                    accumulator.add(chunk)
                    yield chunk
                if parser.done:
                    break
        else:
            http_stream = await stack.enter_async_context(
                client.ahttp.open_stream(wire, job.timeouts, deadline=job.deadline, provider=provider.name))
            headers = http_stream.headers
            if client._stream_opened(job, http_stream.status, headers, http_stream.request_id, accumulator):
                failed = WireResponse(http_stream.status, headers, await http_stream.read_all(_RAW_LIMIT))
                raise client._stream_refused(job, failed)
            chunks: AsyncIterator[bytes] = http_stream.chunks
            if wire.framing == "sse":
                head, chunks = await _sniffed(chunks)
                if head in (b"{", b"["):
                    limit = client._max_body(provider)
                    body = bytearray()
                    async for piece in chunks:
                        body += piece
                        if len(body) > limit:
                            raise ProtocolError(f"reply is larger than {limit} bytes; refused", raw=bytes(body[:65536]))
                    for chunk in client._stream_as_reply(job, WireResponse(http_stream.status, headers, bytes(body))):
                        accumulator.add(chunk)
                        yield chunk
                    return
            decoder = event_decoder(wire.framing, _limits(client, job),
                                    stray_lines=bool(getattr(parser, "wants_stray_lines", False)))
            finished = False
            async for piece in chunks:
                events = decoder.feed(piece)
                del piece  # the raw read is not kept while its events are handed out
                for event in events:
                    for chunk in parser.feed(event):
                        accumulator.add(chunk)
                        yield chunk
                    if parser.done:
                        finished = True
                        break
                if finished:
                    break
            if not finished:
                for event in decoder.close():
                    for chunk in parser.feed(event):
                        accumulator.add(chunk)
                        yield chunk
                    if parser.done:
                        break
        for chunk in parser.close():
            accumulator.add(chunk)
            yield chunk
    except LLMError as raised:
        raise client._stream_fault(job, raised, accumulator, headers)
    except PARSE_FAILURES as exc:
        raise client._stream_unparsed(job, exc, accumulator) from None


async def _astream_calls(client: Client, plan: CallLoop, outcome: Outcome) -> AsyncGenerator[ChatChunk, None]:
    """A stream's driver: every attempt, each chunk yielded as it arrives; the reply goes to
    ``outcome`` (see :class:`~llmplex.client.callloop.Outcome`). An
    error or a cancellation ends it with its connection closed (the attempt's ``async with``)."""
    while True:
        job = plan.begin()
        delivered = 0
        try:
            plan.check()
            accumulator = plan.accumulator(job)
            async with AsyncExitStack() as stack:
                async for chunk in _stream_once(client, job, stack, accumulator):
                    delivered += 1
                    yield chunk
            response = _assembled(accumulator, job.provider.name)
        except LLMError as exc:
            delay = plan.failed(exc, job, delivered)
            if delay is not None:
                await asleep(client.clock, delay)
            continue
        outcome.response = plan.succeeded(job, response)
        return


# -- the stream object -----------------------------------------------------------------------
class AsyncChatStream:
    """An async iterable of ChatChunks; afterwards ``response`` is the assembled ChatResponse.

    Retries and fallbacks apply only until the first chunk reaches the caller. Leaving the
    ``async for`` early, ``await stream.aclose()``, ``async with`` or cancelling the task
    closes the connection (never returned to the pool half-read).
    """

    def __init__(self, client: Client, chain: List[str], messages: Any, params: Dict[str, Any],
                 options: Dict[str, Any], *, requested: str) -> None:
        self._plan = CallLoop(client, chain, requested, messages, params, options, stream=True)
        self._client = client
        self._calls: Optional[AsyncGenerator[ChatChunk, None]] = None
        self._outcome = Outcome()

    @property
    def response(self) -> Optional[ChatResponse]:
        """The assembled reply, once the stream has ended (None before, or if it failed)."""
        return self._outcome.response

    @response.setter
    def response(self, value: Optional[ChatResponse]) -> None:
        self._outcome.response = value

    @property
    def text(self) -> str:
        return self.response.text if self.response is not None else ""

    def __aiter__(self) -> AsyncIterator[ChatChunk]:
        # ``async for`` reads the driver itself: no coroutine of ours between it and a chunk.
        if self._calls is None:
            self._calls = _astream_calls(self._client, self._plan, self._outcome)
        return self._calls

    async def __anext__(self) -> ChatChunk:
        return await self.__aiter__().__anext__()

    async def aclose(self) -> None:
        """Stop the stream and release its connection."""
        calls = self._calls
        if calls is not None:
            await calls.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


# -- many calls ------------------------------------------------------------------------------
async def abatch(client: Client, model: str, conversations: Sequence[Any], *, concurrency: int,
                 progress: Optional[Callable[[int, int], Any]], params: Dict[str, Any]) -> List[Union[ChatResponse, LLMError]]:
    """Each conversation's reply or error, in order, at most ``concurrency`` in flight."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        from ..errors import InvalidRequestError

        raise InvalidRequestError(f"concurrency must be a positive integer, got {concurrency!r}", field="concurrency")
    gate = asyncio.Semaphore(concurrency)
    results: List[Union[ChatResponse, LLMError, None]] = [None] * len(conversations)
    done = 0

    async def one(index: int, messages: Any) -> None:
        nonlocal done
        async with gate:
            try:
                results[index] = await client.achat(model, messages, **dict(params))
            except LLMError as exc:
                results[index] = exc
        done += 1
        if progress is not None:
            outcome = progress(done, len(conversations))
            if asyncio.iscoroutine(outcome):
                await outcome

    await asyncio.gather(*(one(i, m) for i, m in enumerate(conversations)))
    return [r for r in results if r is not None]


async def aprepare_token(client: Client, job: Attempt) -> Optional[str]:
    """The token ``aprepare`` signs with (fetched or reused, on the event loop)."""
    if not client._exchanges_tokens(job.provider):
        return None
    return await _token(client, job)


class ThreadedChatStream(AsyncChatStream):
    """For a client built with a custom synchronous ``transport=`` (a test double, a transport of
    the caller's own): the blocking stream runs in a worker thread, one hop per chunk."""

    def __init__(self, stream: Any) -> None:  # a ChatStream
        self._stream = stream
        self._iterator: Any = None
        self._outcome = Outcome()

    def __aiter__(self) -> ThreadedChatStream:
        return self

    async def __anext__(self) -> ChatChunk:
        loop = asyncio.get_running_loop()
        if self._iterator is None:
            self._iterator = iter(self._stream)
        done = object()
        try:
            chunk = await loop.run_in_executor(None, next, self._iterator, done)
        except BaseException:
            await self.aclose()
            raise
        if not isinstance(chunk, ChatChunk):
            self.response = self._stream.response
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        try:
            self._stream.close()
        except ValueError:
            pass  # cancelled while a worker thread is inside next(): it finishes on its own
