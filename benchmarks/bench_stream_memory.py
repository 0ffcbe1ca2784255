"""Memory a finished stream keeps: a large streamed reply (100 MiB of SSE by default) through
`client.stream`, measured with tracemalloc while the caller still holds the stream and its
`response`, by default (the last frames of `raw` only) and with `keep_raw=True` (every parsed
frame, what every stream kept before), against the assembled text itself as the baseline.

Run: python benchmarks/bench_stream_memory.py [MiB]      (--default-only on a llmplex without keep_raw)
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from typing import Any, Dict

import llmplex
from _server import BenchServer, stream_body

MESSAGES = [{"role": "user", "content": "stream please"}]
MIB = 1024 * 1024


def retained(client: llmplex.Client, **params: Any) -> Dict[str, float]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    stream = client.stream("bench/bench-model", MESSAGES, **params)
    chunks = 0
    for _ in stream:
        chunks += 1
    seconds = time.perf_counter() - started
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert stream.response is not None
    text = len(stream.response.text.encode("utf-8"))
    return {
        "chunks": chunks,
        "text_mib": round(text / MIB, 1),
        "retained_mib": round((current - before) / MIB, 1),
        "peak_mib": round((peak - before) / MIB, 1),
        "seconds": round(seconds, 1),
    }


def main(mib: float = 100, default_only: bool = False) -> Dict[str, Any]:
    frame = len(stream_body(2)) // 3
    chunks = int(mib * MIB / frame)
    with BenchServer(stream_chunks=chunks) as server:
        client = llmplex.Client(
            {"providers": {"bench": {"type": "openai-compatible", "base_url": server.url, "api_key": "sk-EXAMPLE"}}}
        )
        report: Dict[str, Any] = {"stream_mib": round(len(stream_body(chunks)) / MIB, 1)}
        report["default"] = retained(client)
        if not default_only:
            report["keep_raw"] = retained(client, keep_raw=True)
            report["keep_raw/default retained ratio"] = round(
                report["keep_raw"]["retained_mib"] / max(report["default"]["retained_mib"], 0.1), 1
            )
        report["default retained/text ratio"] = round(
            report["default"]["retained_mib"] / max(report["default"]["text_mib"], 0.1), 2
        )
    return report


if __name__ == "__main__":
    import json

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(main(float(args[0]) if args else 100, "--default-only" in sys.argv), indent=2))
