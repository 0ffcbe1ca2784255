"""The transports alone against the bare client of their library, on the same loopback server.

Two ratios, each measured in one run (the server, in its own process, shows its own throughput
first, so it is not the bottleneck):

1. sync: ``HttpTransport.send`` of a fixed WireRequest vs a pooled ``requests.Session.post`` +
   ``json.loads`` of the same request, one call at a time (the transport's part of the issue's
   "at most +100 us over bare requests" per call);
2. async: ``AsyncHttpTransport.send`` (llmplex's own HTTP/1.1 client on asyncio's transports,
   no aiohttp inside) vs a bare ``aiohttp.ClientSession`` doing
   ``async with session.post(...) as r: json.loads(await r.read())``, 1,000 calls at
   concurrency 32 (the transport's part of "achat >= 0.8x bare aiohttp"; aiohttp, the fastest
   library measured by ``bench_async_http.py``, stays the baseline).

Both sides parse the reply with ``json.loads``. Best of several rounds, the sides interleaved.

    python benchmarks/bench_transport.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, gathered, server_throughput  # noqa: E402

import llmplex  # noqa: E402
from llmplex.client.retry import Deadline  # noqa: E402
from llmplex.clock import SystemClock  # noqa: E402
from llmplex.transport.http import HttpTransport, Timeouts  # noqa: E402

HI = [{"role": "user", "content": "ping"}]
SYNC_CALLS = 2000
CALLS = 1000
CONCURRENCY = 32
ROUNDS = 5


def wire_for(url: str) -> Any:
    client = llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "api_key": "sk-bench",
                                                     "base_url": url}}})
    return client.prepare("bench/bench-model", HI)


def sync_ratio(url: str) -> None:
    import requests

    wire = wire_for(url)
    session = requests.Session()
    transport = HttpTransport()
    timeouts = Timeouts()
    deadline = Deadline(SystemClock(), None)
    headers = dict(wire.headers)

    def bare() -> Any:
        return json.loads(session.post(wire.url, data=wire.body, headers=headers, timeout=(5.0, 600.0)).content)

    def mine() -> Any:
        return json.loads(transport.send(wire, timeouts, deadline=deadline, provider="bench").body)

    assert bare() == mine()
    best: Dict[str, float] = {"bare requests": 1e9, "HttpTransport.send": 1e9}
    for _ in range(ROUNDS):
        for name, call in (("bare requests", bare), ("HttpTransport.send", mine)):
            start = time.perf_counter()
            for _ in range(SYNC_CALLS):
                call()
            best[name] = min(best[name], (time.perf_counter() - start) / SYNC_CALLS * 1e6)
    base, ours = best["bare requests"], best["HttpTransport.send"]
    print(f"sync, one call at a time ({SYNC_CALLS} calls, best of {ROUNDS}):")
    print(f"  bare requests.Session.post + json.loads  {base:7.1f} us/call")
    print(f"  HttpTransport.send + json.loads          {ours:7.1f} us/call  ({ours - base:+.1f} us, ratio {ours / base:.2f})")
    transport.close()
    session.close()


async def _timed(call: Callable[[], Awaitable[Any]]) -> float:
    """Microseconds a call: CALLS calls, CONCURRENCY at once."""
    return await gathered(call, CALLS, CONCURRENCY) / CALLS * 1e6


async def _async_ratio(url: str) -> None:
    import aiohttp

    from llmplex.transport.ahttp import AsyncHttpTransport

    wire = wire_for(url)
    transport = AsyncHttpTransport()
    timeouts = Timeouts()
    deadline = Deadline(SystemClock(), None)
    headers = dict(wire.headers)
    session = aiohttp.ClientSession()

    async def bare() -> Any:
        async with session.post(wire.url, data=wire.body, headers=headers) as reply:
            return json.loads(await reply.read())

    async def mine() -> Any:
        return json.loads((await transport.send(wire, timeouts, deadline=deadline, provider="bench")).body)

    assert await bare() == await mine()
    await _timed(bare)
    await _timed(mine)  # warm both pools
    best: Dict[str, List[float]] = {"bare": [], "mine": []}
    for _ in range(ROUNDS):
        best["bare"].append(await _timed(bare))
        best["mine"].append(await _timed(mine))
    base, ours = min(best["bare"]), min(best["mine"])
    print(f"async, {CALLS} calls at concurrency {CONCURRENCY} (best of {ROUNDS}):")
    print(f"  bare aiohttp post + json.loads           {1e6 / base:7.0f} calls/s  ({base:6.1f} us/call)")
    print(f"  AsyncHttpTransport.send + json.loads     {1e6 / ours:7.0f} calls/s  ({ours:6.1f} us/call,"
          f" {base / ours:.2f}x bare's throughput)")
    await session.close()
    await transport.aclose()


def main() -> None:
    with AsyncBenchServer() as server:
        rate, _ = server_throughput(server.port)
        print(f"server alone (raw pipelining client): {rate:,.0f} requests/s")
        sync_ratio(server.url)
        try:
            import aiohttp  # noqa: F401
        except ImportError:
            print("async: the baseline aiohttp is not installed (pip install -r benchmarks/requirements.txt)")
            return
        asyncio.run(_async_ratio(server.url))


if __name__ == "__main__":
    main()
