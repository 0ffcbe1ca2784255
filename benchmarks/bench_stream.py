"""Streaming cost of the sync ``client.stream``, measured side by side in one run against a
loopback server in its own process (``_aserver.py``; its own throughput is printed first):

1. a 5,000-chunk reply: ``client.stream`` against a minimal parser (pooled ``requests`` with
   ``iter_lines``, ``json.loads`` per ``data:`` line, each content delta kept and joined), both
   texts compared exact; target: llmplex per chunk <= 1.5x the minimal parser;
2. a 200-chunk reply: ``client.stream`` against the openai SDK's stream (target: <= 1/4 of its
   time) and a raw ``requests`` read of the same bytes (no parsing at all).

Run: python benchmarks/bench_stream.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict

sys.path.insert(0, str(Path(__file__).parent))
from _aserver import AsyncBenchServer, server_throughput  # noqa: E402

import requests  # noqa: E402

import llmplex  # noqa: E402

MESSAGES = [{"role": "user", "content": "stream please"}]
LONG = 5000
SHORT = 200
TARGET_VS_MINIMAL = 1.5
TARGET_VS_OPENAI = 0.25


def expected_text(chunks: int) -> str:
    return "".join(f"tok{i} " for i in range(1, chunks))


def best(fn: Callable[[], None], rounds: int) -> float:
    """Seconds of the fastest of ``rounds`` runs (after one warm-up)."""
    fn()
    out = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - start)
    return out


def _client(url: str) -> llmplex.Client:
    return llmplex.Client({"providers": {"bench": {"type": "openai-compatible", "base_url": url, "api_key": "sk-EXAMPLE"}}})


def versus_minimal(rounds: int = 7) -> Dict[str, Any]:
    text = expected_text(LONG)
    with AsyncBenchServer(stream_chunks=LONG) as server:
        client = _client(server.url)
        session = requests.Session()
        body = json.dumps({"model": "bench-model", "messages": MESSAGES, "stream": True}).encode()
        headers = {"Authorization": "Bearer sk-EXAMPLE", "Content-Type": "application/json"}

        def minimal() -> None:
            out = []
            with session.post(server.url + "/chat/completions", data=body, headers=headers, stream=True,
                              timeout=10) as reply:
                for line in reply.iter_lines():
                    if line.startswith(b"data: "):
                        data = line[6:]
                        if data == b"[DONE]":
                            break
                        content = json.loads(data)["choices"][0]["delta"].get("content")
                        if content:
                            out.append(content)
            assert "".join(out) == text

        def plex() -> None:
            assert "".join(c.text for c in client.stream("bench/bench-model", MESSAGES)) == text

        minimal_t, plex_t = float("inf"), float("inf")
        for _ in range(2):  # alternated so drift hits both alike
            minimal_t = min(minimal_t, best(minimal, rounds))
            plex_t = min(plex_t, best(plex, rounds))
        client.close()
    return {
        f"minimal_parser_us_per_chunk ({LONG} chunks)": round(minimal_t / LONG * 1e6, 2),
        f"llmplex_us_per_chunk ({LONG} chunks)": round(plex_t / LONG * 1e6, 2),
        "llmplex/minimal ratio": round(plex_t / minimal_t, 3),
        "target llmplex/minimal": TARGET_VS_MINIMAL,
    }


def versus_openai(rounds: int = 60) -> Dict[str, Any]:
    import openai

    text = expected_text(SHORT)
    with AsyncBenchServer(stream_chunks=SHORT) as server:
        client = _client(server.url)
        sdk = openai.OpenAI(api_key="sk-EXAMPLE", base_url=server.url, max_retries=0)
        session = requests.Session()
        body = json.dumps({"model": "bench-model", "messages": MESSAGES, "stream": True}).encode()

        def plex() -> None:
            assert "".join(c.text for c in client.stream("bench/bench-model", MESSAGES)) == text

        def openai_sdk() -> None:
            stream = sdk.chat.completions.create(model="bench-model", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            assert "".join((c.choices[0].delta.content or "") for c in stream if c.choices) == text

        def raw() -> None:
            with session.post(server.url + "/chat/completions", data=body, stream=True, timeout=10) as r:
                for _ in r.iter_content(chunk_size=None):
                    pass

        results = {"llmplex": best(plex, rounds), "openai_sdk": best(openai_sdk, rounds), "raw_requests": best(raw, rounds)}
        client.close()
    report: Dict[str, Any] = {f"{k}_ms ({SHORT} chunks)": round(v * 1000, 3) for k, v in results.items()}
    report["llmplex/openai_sdk ratio"] = round(results["llmplex"] / results["openai_sdk"], 3)
    report["target llmplex/openai_sdk"] = TARGET_VS_OPENAI
    report["llmplex/raw ratio"] = round(results["llmplex"] / results["raw_requests"], 3)
    return report


def main() -> Dict[str, Any]:
    with AsyncBenchServer() as server:
        rate, _ = server_throughput(server.port)
    report: Dict[str, Any] = {"server alone (raw pipelining client, 32 connections) requests/s": round(rate)}
    report.update(versus_minimal())
    try:
        report.update(versus_openai())
    except ImportError:
        report["openai_sdk"] = "not installed (pip install openai)"
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
