"""Per-call overhead of `client.chat` against a bare pooled `requests.Session.post` + json.loads
to the same loopback server, measured side by side in one run.

Run: python benchmarks/bench_overhead.py
"""

from __future__ import annotations

import json
import statistics
import time

import requests

import llmplex
from _server import BenchServer, capacity

MESSAGES = [{"role": "user", "content": "ping"}]


def per_call(fn, calls: int) -> float:
    fn()  # warm the pool
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main(calls: int = 1000, rounds: int = 5) -> dict:
    with BenchServer() as server:
        session = requests.Session()
        body = json.dumps({"model": "bench-model", "messages": MESSAGES}).encode()
        headers = {"Authorization": "Bearer sk-EXAMPLE", "Content-Type": "application/json"}

        def bare() -> None:
            json.loads(session.post(server.url + "/chat/completions", data=body, headers=headers, timeout=10).content)

        # The server's own ceiling first: the clients below must stay well under it.
        server_report = capacity(server.url, body, requests=calls)
        client = llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "base_url": server.url, "api_key": "sk-EXAMPLE"}}})

        def plex() -> None:
            client.chat("bench/bench-model", MESSAGES)

        bare_t, plex_t = [], []
        for _ in range(rounds):  # interleaved so drift hits both alike
            bare_t.append(per_call(bare, calls))
            plex_t.append(per_call(plex, calls))
    b, p = statistics.median(bare_t), statistics.median(plex_t)
    return {
        "server (thinnest client)": server_report,
        "bare_requests_us_per_call": round(b * 1e6, 1),
        "llmplex_us_per_call": round(p * 1e6, 1),
        "added_us_per_call": round((p - b) * 1e6, 1),
        "llmplex/bare ratio": round(p / b, 3),
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
