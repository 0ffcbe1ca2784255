"""Which asyncio HTTP library llmplex's async transport is built on: aiohttp or httpx, measured.

The same 1,000 POSTs (at concurrency 32, each reply parsed with ``json.loads``) and the same
200-chunk stream (read as raw bytes, as llmplex's SSE decoder wants them) through each library's
pooled client, against a loopback server running in its own process whose own throughput is
reported first (it must be well above either client's).

    python benchmarks/bench_async_http.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, server_throughput  # noqa: E402

CALLS = 1000
CONCURRENCY = 32
STREAMS = 50
BODY = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": "ping"}]}).encode()
STREAM_BODY = json.dumps({"model": "bench-model", "stream": True, "messages": []}).encode()
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}


async def _gather(call: Callable[[], Awaitable[Any]], total: int, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with semaphore:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return time.perf_counter() - start


async def aiohttp_run(url: str) -> tuple:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def call() -> None:
            async with session.post(url + "/chat/completions", data=BODY, headers=HEADERS) as response:
                json.loads(await response.read())

        async def stream() -> None:
            async with session.post(url + "/chat/completions", data=STREAM_BODY, headers=HEADERS) as response:
                async for _ in response.content.iter_any():
                    pass

        await _gather(call, 64, CONCURRENCY)  # warm the pool
        calls = await _gather(call, CALLS, CONCURRENCY)
        streams = await _gather(stream, STREAMS, 1)
    return calls, streams


async def httpx_run(url: str) -> tuple:
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

        await _gather(call, 64, CONCURRENCY)
        calls = await _gather(call, CALLS, CONCURRENCY)
        streams = await _gather(stream, STREAMS, 1)
    return calls, streams


def main() -> None:
    with AsyncBenchServer(stream_chunks=200) as server:
        rate, _ = server_throughput(server.port)
        print(f"server alone (raw pipelining client, 32 connections): {rate:,.0f} requests/s")
        results = {}
        for name, run in (("aiohttp", aiohttp_run), ("httpx", httpx_run)):
            best = None
            for _ in range(3):
                calls, streams = asyncio.run(run(server.url))
                best = (calls, streams) if best is None else (min(best[0], calls), min(best[1], streams))
            results[name] = best
            calls, streams = best
            print(f"{name:8s} {CALLS} calls at concurrency {CONCURRENCY}: {CALLS / calls:,.0f} calls/s"
                  f" ({calls / CALLS * 1e6:,.0f} us/call); 200-chunk stream: {streams / STREAMS * 1e3:.2f} ms")
        a, h = results["aiohttp"], results["httpx"]
        print(f"httpx / aiohttp time: calls {h[0] / a[0]:.2f}x, streams {h[1] / a[1]:.2f}x")


if __name__ == "__main__":
    main()
