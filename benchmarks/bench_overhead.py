"""Per-call overhead of the sync ``client.chat`` against a bare pooled ``requests.Session.post`` +
``json.loads`` to the same loopback server, measured side by side in one run (target: at most
100 us added per call).

The server (``_aserver.py``, a raw asyncio protocol) runs in its own process, so it neither
shares the client's GIL nor costs the client's process anything; its own throughput is printed
first. ``bench_cpu.py`` gives the part of the added time that is llmplex's own CPU.

Run: python benchmarks/bench_overhead.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, server_throughput  # noqa: E402
from _server import capacity  # noqa: E402

import requests  # noqa: E402

import llmplex  # noqa: E402

MESSAGES = [{"role": "user", "content": "ping"}]
TARGET_ADDED_US = 100.0


def per_call(fn: Callable[[], None], calls: int) -> float:
    fn()  # warm the pool
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(calls: int = 1000, rounds: int = 7) -> Dict[str, Any]:
    with AsyncBenchServer() as server:
        body = json.dumps({"model": "bench-model", "messages": MESSAGES}).encode()
        # The server's own ceiling first: the clients below must stay well under it.
        rate, _ = server_throughput(server.port)
        one_connection = capacity(server.url, body, requests=calls)
        session = requests.Session()
        headers = {"Authorization": "Bearer sk-EXAMPLE", "Content-Type": "application/json"}

        def bare() -> None:
            reply = session.post(server.url + "/chat/completions", data=body, headers=headers, timeout=10)
            assert json.loads(reply.content)["choices"][0]["message"]["content"] == "pong"

        client = llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "base_url": server.url,
                                                         "api_key": "sk-EXAMPLE"}}})

        def plex() -> None:
            assert client.chat("bench/bench-model", MESSAGES).text == "pong"

        bare_t, plex_t = [], []
        for _ in range(rounds):  # interleaved so drift hits both alike; the best round of each counts
            bare_t.append(per_call(bare, calls))
            plex_t.append(per_call(plex, calls))
        client.close()
    b, p = min(bare_t), min(plex_t)
    return {
        "server alone (raw pipelining client, 32 connections) requests/s": round(rate),
        "server alone (http.client, 1 keep-alive connection)": one_connection,
        "bare_requests_us_per_call": round(b * 1e6, 1),
        "llmplex_us_per_call": round(p * 1e6, 1),
        "added_us_per_call": round((p - b) * 1e6, 1),
        "target_added_us": TARGET_ADDED_US,
        "llmplex/bare ratio": round(p / b, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
