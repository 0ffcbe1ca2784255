"""llmplex's native asyncio API against the sync API, a bare aiohttp client and AsyncOpenAI.

Four measurements, each a ratio taken in one run against a loopback server in its own process
(``_aserver.py``) whose own throughput is printed first:

1. ``astream`` per-chunk cost vs the sync ``stream`` on the same 200- and 5,000-chunk replies
   (target: ratio <= 1.0);
2. 1,000 ``achat`` calls at concurrency 32 vs a bare ``aiohttp.ClientSession`` doing the same
   POSTs and ``json.loads`` (target: >= 0.8x its throughput; aiohttp is the library issue #13
   chose as the bar, the fastest one ``bench_async_http.py`` measured, though llmplex's own
   transport no longer uses it) and vs ``AsyncOpenAI`` with ``asyncio.gather`` (target: >= 2x),
   with the process's thread count sampled throughout;
3. 1,000 streams open at once in one process: RSS per open stream, and every stream's text exact.

    python benchmarks/bench_async.py
    python benchmarks/bench_async.py memory    # where an open stream's memory goes: a tracemalloc
                                               # diff around opening the 1,000 streams, top 15 lines
"""

from __future__ import annotations

import asyncio
import gc
import json
import linecache
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any, Awaitable, Callable

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, server_throughput  # noqa: E402

import llmplex  # noqa: E402

HI = [{"role": "user", "content": "ping"}]
CALLS = 1000
CONCURRENCY = 32
OPEN_STREAMS = 1000


def client_for(url: str) -> llmplex.Client:
    return llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "api_key": "sk-bench", "base_url": url}}})


def expected_text(chunks: int) -> str:
    return "".join(f"tok{i} " for i in range(1, chunks))


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def best(run: Callable[[], float], times: int = 5) -> float:
    return min(run() for _ in range(times))


# -- 1. per-chunk cost -------------------------------------------------------------------------
def per_chunk(chunks: int) -> None:
    with AsyncBenchServer(stream_chunks=chunks) as server:
        client = client_for(server.url)
        text = expected_text(chunks)

        def sync_once() -> float:
            start = time.perf_counter()
            stream = client.stream("bench/bench-model", HI)
            got = "".join(c.text for c in stream)
            elapsed = time.perf_counter() - start
            assert got == text
            return elapsed

        async def async_runs() -> float:
            async def once() -> float:
                start = time.perf_counter()
                got = "".join([c.text async for c in client.astream("bench/bench-model", HI)])
                elapsed = time.perf_counter() - start
                assert got == text
                return elapsed

            await once()
            result = min([await once() for _ in range(7)])
            await client.aclose()
            return result

        sync_once()
        sync = best(sync_once, 7)
        native = asyncio.run(async_runs())
        print(f"{chunks:5d}-chunk stream: stream {sync / chunks * 1e6:6.2f} us/chunk, astream "
              f"{native / chunks * 1e6:6.2f} us/chunk; astream/stream = {native / sync:.2f}")


# -- 2. 1,000 calls at concurrency 32 ----------------------------------------------------------
class Threads:
    def __init__(self) -> None:
        self.high = threading.active_count()

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.high = max(self.high, threading.active_count())
            await asyncio.sleep(0.001)


async def _gather(call: Callable[[], Awaitable[Any]], total: int, threads: Threads) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)
    stop = asyncio.Event()
    watcher = asyncio.ensure_future(threads.watch(stop))

    async def one() -> None:
        async with gate:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    elapsed = time.perf_counter() - start
    stop.set()
    await watcher
    return elapsed


def calls(url: str) -> None:
    import aiohttp
    from openai import AsyncOpenAI

    body = json.dumps({"model": "bench-model", "messages": HI}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}

    async def bare(threads: Threads) -> float:
        async with aiohttp.ClientSession() as session:
            async def call() -> None:
                async with session.post(url + "/chat/completions", data=body, headers=headers) as response:
                    json.loads(await response.read())["choices"][0]["message"]["content"]

            await _gather(call, 64, threads)
            return await _gather(call, CALLS, threads)

    async def ours(threads: Threads) -> float:
        client = client_for(url)

        async def call() -> None:
            assert (await client.achat("bench/bench-model", HI)).text == "pong"

        await _gather(call, 64, threads)
        result = await _gather(call, CALLS, threads)
        await client.aclose()
        return result

    async def theirs(threads: Threads) -> float:
        client = AsyncOpenAI(api_key="sk-bench", base_url=url, max_retries=0)

        async def call() -> None:
            reply = await client.chat.completions.create(model="bench-model", messages=HI)  # type: ignore[arg-type]
            assert reply.choices[0].message.content == "pong"

        await _gather(call, 64, threads)
        result = await _gather(call, CALLS, threads)
        await client.close()
        return result

    results = {}
    for name, run in (("bare aiohttp", bare), ("llmplex achat", ours), ("AsyncOpenAI", theirs)):
        threads = Threads()
        before = threading.active_count()
        seconds = min(asyncio.run(run(threads)) for _ in range(3))
        results[name] = seconds
        print(f"{name:14s} {CALLS} calls at concurrency {CONCURRENCY}: {CALLS / seconds:7,.0f} calls/s;"
              f" threads {before} before, at most {threads.high} during")
    bare_s, ours_s, theirs_s = results["bare aiohttp"], results["llmplex achat"], results["AsyncOpenAI"]
    print(f"llmplex throughput / bare aiohttp = {bare_s / ours_s:.2f} (target >= 0.8);"
          f" / AsyncOpenAI = {theirs_s / ours_s:.2f} (target >= 2)")


# -- 3. 1,000 streams open at once -------------------------------------------------------------
def open_streams(url: str, chunks: int) -> None:
    text = expected_text(chunks)

    async def main() -> None:
        client = client_for(url)
        # Warm up: imports, the session, one stream.
        assert "".join([c.text async for c in client.astream("bench/bench-model", HI)]) == text
        gc.collect()
        before = rss_kib()
        streams = [client.astream("bench/bench-model", HI) for _ in range(OPEN_STREAMS)]
        firsts = await asyncio.gather(*(s.__anext__() for s in streams))
        gc.collect()
        opened = rss_kib()
        texts = [[f.text] for f in firsts]

        async def rest(index: int) -> None:
            async for chunk in streams[index]:
                texts[index].append(chunk.text)

        await asyncio.gather(*(rest(i) for i in range(OPEN_STREAMS)))
        exact = sum("".join(t) == text for t in texts)
        per = (opened - before) / OPEN_STREAMS
        print(f"{OPEN_STREAMS} streams of {chunks} chunks open at once: RSS +{(opened - before) / 1024:.1f} MiB,"
              f" {per:.1f} KiB per open stream; texts exact: {exact}/{OPEN_STREAMS};"
              f" threads: {threading.active_count()}")
        await client.aclose()

    asyncio.run(main())


def memory(url: str, chunks: int, top: int = 15) -> None:
    """Part 3 under tracemalloc: what is allocated, and still alive, per open stream, by line."""
    text = expected_text(chunks)
    root = str(Path(__file__).resolve().parent.parent) + "/"

    async def main() -> None:
        client = client_for(url)
        assert "".join([c.text async for c in client.astream("bench/bench-model", HI)]) == text
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        streams = [client.astream("bench/bench-model", HI) for _ in range(OPEN_STREAMS)]
        await asyncio.gather(*(s.__anext__() for s in streams))
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
        diff = after.filter_traces(skip).compare_to(before.filter_traces(skip), "lineno")
        total = sum(d.size_diff for d in diff)
        print(f"{OPEN_STREAMS} streams of {chunks} chunks open at once, each after its first chunk:"
              f" {total / OPEN_STREAMS / 1024:.1f} KiB allocated and alive per open stream; by line:")
        for d in diff[:top]:
            frame = d.traceback[0]
            print(f"  {d.size_diff / OPEN_STREAMS:8,.0f} B {d.count_diff / OPEN_STREAMS:6.1f} blocks "
                  f" {frame.filename.replace(root, '')}:{frame.lineno}"
                  f"  {linecache.getline(frame.filename, frame.lineno).strip()[:80]}")
        for stream in streams:
            async for _ in stream:
                pass
        await client.aclose()

    asyncio.run(main())


def main() -> None:
    if sys.argv[1:] == ["memory"]:
        with AsyncBenchServer(stream_chunks=200) as server:
            memory(server.url, 200)
        return
    with AsyncBenchServer(stream_chunks=200) as server:
        rate, _ = server_throughput(server.port)
        print(f"server alone (raw pipelining client, 32 connections): {rate:,.0f} requests/s")
        calls(server.url)
        open_streams(server.url, 200)
    for chunks in (200, 5000):
        per_chunk(chunks)


if __name__ == "__main__":
    main()
