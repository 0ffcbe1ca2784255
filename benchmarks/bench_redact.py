"""Cost of the log filter that masks secrets, after many short-lived clients have come and gone,
against the same filter with one live client (the baseline), measured in one run.

Every client registers its secrets (each in a dozen encoded forms) with the process-wide filter
on urllib3's, websockets' and llmplex's loggers. The registry must shrink when clients are
collected, or an application that makes a client per request slows down every log record.

Run: python benchmarks/bench_redact.py
"""

from __future__ import annotations

import gc
import json
import logging
import statistics
import time

import llmplex
from llmplex.client import redact


def registry_size() -> int:
    size = getattr(redact, "registry_size", None)
    return size() if size is not None else len(redact._registry)  # type: ignore[attr-defined]


def per_record(records: int = 2000, rounds: int = 5) -> float:
    """Seconds the filter spends on one urllib3-style DEBUG record (median of ``rounds``)."""
    flt = redact.RedactingFilter()
    message = 'https://api.deepseek.com:443 "POST /chat/completions?trace=abc HTTP/1.1" 200 None'
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(records):
            flt.filter(logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, message, None, None))
        times.append((time.perf_counter() - start) / records)
    return statistics.median(times)


def short_lived_clients(count: int) -> None:
    for i in range(count):
        client = llmplex.Client({"providers": {"deepseek": {"api_key": f"sk-EXAMPLE-short-lived-{i:06d}-abcdef"}}})
        client.provider("deepseek")  # resolving the provider registers its key
        client.close()


def main(clients: int = 3000) -> dict:
    keep = llmplex.Client({"providers": {"deepseek": {"api_key": "sk-EXAMPLE-long-lived-client-abcdef"}}})
    keep.provider("deepseek")
    gc.collect()
    base_size, base = registry_size(), per_record()
    short_lived_clients(clients)
    gc.collect()
    after_size, after = registry_size(), per_record()
    return {
        "short_lived_clients": clients,
        "registry_needles_one_client": base_size,
        "registry_needles_after": after_size,
        "filter_us_per_record_one_client": round(base * 1e6, 2),
        "filter_us_per_record_after": round(after * 1e6, 2),
        "after/one_client ratio": round(after / base, 2),
        "target": "ratio <= 1.5 (the registry returns to the live clients' needles)",
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
