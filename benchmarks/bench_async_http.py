"""Why llmplex's async transport is its own HTTP/1.1 client on asyncio's transports, measured.

aiohttp was first chosen as the library to build on (it beat httpx by far), but its own
per-request machinery costs more CPU a call than all of llmplex's own work. This benchmark
puts four clients side by side, doing the same 1,000 POSTs (at concurrency 32, each reply
parsed with ``json.loads``) and the same 200-chunk stream (read as raw bytes, as llmplex's SSE
decoder wants them), against one loopback server running in its own process whose own
throughput is reported first (it must be well above every client's):

- ``aiohttp``: a pooled ``aiohttp.ClientSession``;
- ``httpx``: a pooled ``httpx.AsyncClient``;
- ``llmplex``: ``AsyncHttpTransport.send`` / ``open_stream`` driven directly with a WireRequest
  (the transport alone, as ``bench_transport.py`` drives it: no client, no provider);
- ``floor``: a minimal asyncio Protocol client written here (keep-alive, Content-Length replies
  only, no timeouts, no checks): about the least CPU any HTTP client on asyncio can spend, and
  so how close to that llmplex's transport comes.

Rounds interleave the clients; each figure is the best of the rounds. The ratios are the
throughput of each client over aiohttp's and over the floor's.

    python benchmarks/bench_async_http.py
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Coroutine, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, gathered, server_throughput  # noqa: E402

CALLS = 1000
CONCURRENCY = 32
STREAMS = 50
ROUNDS = 3
BODY = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "ping"}]}).encode()
STREAM_BODY = json.dumps({"model": "bench-model", "stream": True, "messages": []}).encode()
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}


async def _measure(call: Callable[[], Awaitable[Any]], stream: Callable[[], Awaitable[Any]]) -> Tuple[float, float]:
    await gathered(call, 64, CONCURRENCY)  # warm the pool
    return await gathered(call, CALLS, CONCURRENCY), await gathered(stream, STREAMS, 1)


async def aiohttp_run(url: str) -> Tuple[float, float]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def call() -> None:
            async with session.post(url + "/chat/completions", data=BODY, headers=HEADERS) as response:
                json.loads(await response.read())

        async def stream() -> None:
            async with session.post(url + "/chat/completions", data=STREAM_BODY, headers=HEADERS) as response:
                async for _ in response.content.iter_any():
                    pass

        return await _measure(call, stream)


async def httpx_run(url: str) -> Tuple[float, float]:
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as client:
        async def call() -> None:
            response = await client.post(url + "/chat/completions", content=BODY, headers=HEADERS)
            json.loads(response.content)

        async def stream() -> None:
            async with client.stream("POST", url + "/chat/completions", content=STREAM_BODY, headers=HEADERS) as response:
                async for _ in response.aiter_raw():
                    pass

        return await _measure(call, stream)


async def llmplex_run(url: str) -> Tuple[float, float]:
    from llmplex.provider.contract import WireRequest
    from llmplex.transport.ahttp import AsyncHttpTransport
    from llmplex.transport.http import Timeouts

    transport = AsyncHttpTransport()
    timeouts = Timeouts()
    plain = WireRequest("POST", url + "/chat/completions", HEADERS, BODY)
    streamed = WireRequest("POST", url + "/chat/completions", HEADERS, STREAM_BODY, framing="sse")

    async def call() -> None:
        json.loads((await transport.send(plain, timeouts)).body)

    async def stream() -> None:
        async with transport.open_stream(streamed, timeouts) as reply:
            async for _ in reply.chunks:
                pass

    try:
        return await _measure(call, stream)
    finally:
        await transport.aclose()


# -- the floor: the least an HTTP/1.1 client on asyncio can do ---------------------------------
class _Raw(asyncio.Protocol):
    def __init__(self) -> None:
        self.data: List[bytes] = []
        self.waiter: "Optional[asyncio.Future[None]]" = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.data.append(data)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def read(self) -> bytes:
        if not self.data:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        data, self.data = b"".join(self.data), []
        return data


class FloorClient:
    """Keep-alive POSTs to one host; replies framed by Content-Length only."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: List[_Raw] = []
        self.head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer sk-bench\r\nContent-Length: " % (host.encode(), port))

    async def post(self, body: bytes) -> AsyncIterator[bytes]:
        conn = self.idle.pop() if self.idle else (await asyncio.get_running_loop().create_connection(
            _Raw, self.host, self.port))[1]
        conn.transport.write(self.head + b"%d\r\n\r\n" % len(body) + body)
        data = await conn.read()
        while b"\r\n\r\n" not in data:
            data += await conn.read()
        end = data.index(b"\r\n\r\n")
        at = data.lower().index(b"content-length:", 0, end) + 15
        left = int(data[at:data.index(b"\r\n", at)]) - (len(data) - end - 4)
        yield data[end + 4:]
        while left > 0:
            data = await conn.read()
            left -= len(data)
            yield data
        self.idle.append(conn)


async def floor_run(url: str) -> Tuple[float, float]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    client = FloorClient(host, int(port))

    async def call() -> None:
        json.loads(b"".join([piece async for piece in client.post(BODY)]))

    async def stream() -> None:
        async for _ in client.post(STREAM_BODY):
            pass

    try:
        return await _measure(call, stream)
    finally:
        for conn in client.idle:
            conn.transport.close()


CANDIDATES: Dict[str, Callable[[str], Coroutine[Any, Any, Tuple[float, float]]]] = {
    "aiohttp": aiohttp_run, "httpx": httpx_run, "llmplex": llmplex_run, "floor": floor_run}


def main() -> None:
    with AsyncBenchServer(stream_chunks=200) as server:
        rate, _ = server_throughput(server.port)
        print(f"server alone (raw pipelining client, 32 connections): {rate:,.0f} requests/s")
        best: Dict[str, Tuple[float, float]] = {}
        for _ in range(ROUNDS):
            for name, run in CANDIDATES.items():
                calls, streams = asyncio.run(run(server.url))
                old = best.get(name)
                best[name] = (calls, streams) if old is None else (min(old[0], calls), min(old[1], streams))
        aio, floor = best["aiohttp"], best["floor"]
        print(f"{CALLS} calls at concurrency {CONCURRENCY} and {STREAMS} 200-chunk streams one at a time,"
              f" best of {ROUNDS} interleaved rounds:")
        print(f"  {'client':8s} {'calls/s':>8s} {'us/call':>8s} {'stream ms':>9s}   throughput vs aiohttp / vs floor;"
              " stream time vs aiohttp / vs floor")
        for name, (calls, streams) in best.items():
            print(f"  {name:8s} {CALLS / calls:8,.0f} {calls / CALLS * 1e6:8,.0f} {streams / STREAMS * 1e3:9.2f}"
                  f"   {aio[0] / calls:5.2f}x / {floor[0] / calls:5.2f}x;"
                  f" {streams / aio[1]:5.2f}x / {streams / floor[1]:5.2f}x")


if __name__ == "__main__":
    main()
