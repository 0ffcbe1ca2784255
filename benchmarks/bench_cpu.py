"""llmplex's own CPU per call and per chunk, with the transports replaced by canned replies.

No socket, no server: what is left is llmplex's code path alone (request validation, the
provider's build and parse, the call loop, hooks, the call log, redaction, the stream decoders
and the accumulator). These are the figures the wire targets depend on:

- sync per call must add <= 100 us over a bare ``requests.Session.post`` + ``json.loads``
  (``bench_overhead.py``), and this CPU is most of what it adds;
- 1,000 ``achat`` calls at concurrency 32 must reach >= 0.8x a bare aiohttp client
  (``bench_async.py``): bare aiohttp costs about 135 us a call on the 2-core development
  machine and llmplex's own transport (``AsyncHttpTransport.send``) about 50 us, so the rest
  of llmplex may add up to ~120 us of its own CPU to it;
- a 5,000-chunk stream must cost <= 1.5x a minimal ``iter_lines`` + ``json.loads`` parser
  (``bench_stream.py``).

    python benchmarks/bench_cpu.py              # the figures, as JSON
    python benchmarks/bench_cpu.py profile      # cProfile of sync chat (sorted by tottime)
    python benchmarks/bench_cpu.py aprofile     # cProfile of async achat
    python benchmarks/bench_cpu.py sprofile     # cProfile of the 5,000-chunk sync stream
    (a second argument picks the sort key, e.g. ``profile cumulative``)
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import sys
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List

sys.path.insert(0, str(Path(__file__).parent))
from _server import REPLY, stream_body  # noqa: E402

import llmplex  # noqa: E402
from llmplex.provider.contract import WireResponse  # noqa: E402
from llmplex.transport.http import HttpStream, HttpTransport  # noqa: E402

MESSAGES = [{"role": "user", "content": "ping"}]
MODEL = "bench/bench-model"
CONFIG = {"providers": {"bench": {"type": "openai-compatible", "base_url": "http://127.0.0.1:9/v1",
                                  "api_key": "sk-EXAMPLE"}}}
STREAM_CHUNKS = 5000
READ_SIZE = 65536  # what the transports ask a socket for; a loopback read returns about this much

_REPLY = WireResponse(200, {"content-type": "application/json", "content-length": str(len(REPLY))}, REPLY)
_STREAM_HEADERS = {"content-type": "text/event-stream"}


def _pieces(body: bytes) -> List[bytes]:
    return [body[i:i + READ_SIZE] for i in range(0, len(body), READ_SIZE)]


def canned(stream_chunks: int = STREAM_CHUNKS) -> List[bytes]:
    """Replace both transports' I/O with canned bytes; return the stream's socket reads.

    Each transport's ``send`` and ``open_stream`` (the only entry points the client calls) are
    replaced whole, so nothing below them (the sync adapter, the async ``_Connection`` /
    ``_Exchange`` machinery) runs and no socket is opened.
    """
    pieces = _pieces(stream_body(stream_chunks))

    def send(self: Any, *args: Any, **kwargs: Any) -> WireResponse:
        return _REPLY

    @contextmanager
    def open_stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[HttpStream]:
        yield HttpStream(200, dict(_STREAM_HEADERS), iter(pieces))

    HttpTransport.send = send  # type: ignore[method-assign]
    HttpTransport.open_stream = open_stream  # type: ignore[method-assign,assignment]
    from llmplex.transport.ahttp import AsyncHttpStream, AsyncHttpTransport

    async def asend(self: Any, *args: Any, **kwargs: Any) -> WireResponse:
        return _REPLY

    async def achunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    @asynccontextmanager
    async def aopen_stream(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[AsyncHttpStream]:
        yield AsyncHttpStream(200, dict(_STREAM_HEADERS), achunks())

    AsyncHttpTransport.send = asend  # type: ignore[method-assign]
    AsyncHttpTransport.open_stream = aopen_stream  # type: ignore[method-assign,assignment]
    return pieces


def expected_text(chunks: int = STREAM_CHUNKS) -> str:
    return "".join(f"tok{i} " for i in range(1, chunks))


def best(fn: Callable[[], None], n: int, rounds: int = 7) -> float:
    """Seconds per call of ``fn``: the best of ``rounds`` rounds of ``n`` calls."""
    fn()
    out = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out = min(out, (time.perf_counter() - start) / n)
    return out


async def abest(fn: Callable[[], Awaitable[None]], n: int, rounds: int = 7) -> float:
    await fn()
    out = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        out = min(out, (time.perf_counter() - start) / n)
    return out


def main(calls: int = 3000, streams: int = 5) -> Dict[str, Any]:
    canned()
    client = llmplex.Client(CONFIG)
    text = expected_text()

    def chat() -> None:
        assert client.chat(MODEL, MESSAGES).text == "pong"

    def stream() -> None:
        assert "".join(c.text for c in client.stream(MODEL, MESSAGES)) == text

    report: Dict[str, Any] = {
        "sync chat us/call": round(best(chat, calls) * 1e6, 1),
        f"sync stream us/chunk ({STREAM_CHUNKS} chunks)": round(best(stream, streams) / STREAM_CHUNKS * 1e6, 2),
    }
    async def run() -> None:
        async def achat() -> None:
            assert (await client.achat(MODEL, MESSAGES)).text == "pong"

        async def astream() -> None:
            assert "".join([c.text async for c in client.astream(MODEL, MESSAGES)]) == text

        report["async achat us/call"] = round(await abest(achat, calls) * 1e6, 1)
        report[f"async astream us/chunk ({STREAM_CHUNKS} chunks)"] = round(
            await abest(astream, streams) / STREAM_CHUNKS * 1e6, 2)
        await client.aclose()

    asyncio.run(run())
    return report


def profile(mode: str, sort: str) -> None:
    canned()
    client = llmplex.Client(CONFIG)
    profiler = cProfile.Profile()
    if mode == "profile":
        for _ in range(300):
            client.chat(MODEL, MESSAGES)
        profiler.enable()
        for _ in range(5000):
            client.chat(MODEL, MESSAGES)
        profiler.disable()
    elif mode == "sprofile":
        "".join(c.text for c in client.stream(MODEL, MESSAGES))
        profiler.enable()
        for _ in range(5):
            "".join(c.text for c in client.stream(MODEL, MESSAGES))
        profiler.disable()
    else:
        async def run() -> None:
            for _ in range(300):
                await client.achat(MODEL, MESSAGES)
            profiler.enable()
            for _ in range(5000):
                await client.achat(MODEL, MESSAGES)
            profiler.disable()
            await client.aclose()

        asyncio.run(run())
    pstats.Stats(profiler).sort_stats(sort).print_stats(60)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        profile(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "tottime")
    else:
        print(json.dumps(main(), indent=2))
