"""A 200-chunk streamed reply parsed by `client.stream` against the openai SDK's stream over the
same loopback server, and a raw `requests` read of the same bytes, measured in one run.

Run: python benchmarks/bench_stream.py
"""

from __future__ import annotations

import json
import statistics
import time

import requests

import llmplex
from _server import BenchServer, capacity

MESSAGES = [{"role": "user", "content": "stream please"}]


def timed(fn, rounds: int) -> float:
    fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main(rounds: int = 60) -> dict:
    import openai

    with BenchServer(stream_chunks=200) as server:
        client = llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "base_url": server.url, "api_key": "sk-EXAMPLE"}}})
        sdk = openai.OpenAI(api_key="sk-EXAMPLE", base_url=server.url, max_retries=0)
        session = requests.Session()
        body = json.dumps({"model": "bench-model", "messages": MESSAGES, "stream": True}).encode()

        def plex() -> None:
            text = "".join(c.text for c in client.stream("bench/bench-model", MESSAGES))
            assert text.startswith("tok1 ")

        def openai_sdk() -> None:
            stream = sdk.chat.completions.create(model="bench-model", messages=MESSAGES, stream=True)
            text = "".join((c.choices[0].delta.content or "") for c in stream if c.choices)
            assert text.startswith("tok1 ")

        def raw() -> None:
            with session.post(server.url + "/chat/completions", data=body, stream=True, timeout=10) as r:
                for _ in r.iter_content(chunk_size=None):
                    pass

        server_report = capacity(server.url, body, requests=rounds)  # its ceiling, before any client
        results = {"llmplex": timed(plex, rounds), "openai_sdk": timed(openai_sdk, rounds), "raw_requests": timed(raw, rounds)}
    report: dict = {"server (thinnest client, whole stream)": server_report}
    report.update({f"{k}_ms": round(v * 1000, 2) for k, v in results.items()})
    report["llmplex/openai_sdk ratio"] = round(results["llmplex"] / results["openai_sdk"], 3)
    report["llmplex/raw ratio"] = round(results["llmplex"] / results["raw_requests"], 3)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
