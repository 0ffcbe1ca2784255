"""Cold import time and resident memory of `import llmplex` against openai and aisuite.

Each figure is the median of fresh interpreter runs; memory is the growth of peak RSS over an
interpreter that imports nothing. Run: python benchmarks/bench_import.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

PROBE = r"""
import resource, sys, time
t0 = time.perf_counter()
{stmt}
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(elapsed, rss * (1 if sys.platform == "darwin" else 1024))
"""

CASES = {
    "nothing": "pass",
    "llmplex": "import llmplex",
    "llmplex (first Client)": "import llmplex; llmplex.Client({})",
    "openai": "import openai",
    "aisuite": "import aisuite",
}


def measure(stmt: str, runs: int) -> tuple[float, float]:
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True, text=True, check=True)
        t, r = out.stdout.split()
        times.append(float(t))
        rss.append(float(r))
    return statistics.median(times), statistics.median(rss)


def main(runs: int = 9) -> dict:
    results = {name: measure(stmt, runs) for name, stmt in CASES.items()}
    base_rss = results["nothing"][1]
    report = {}
    for name, (seconds, rss) in results.items():
        if name == "nothing":
            continue
        report[name] = {"import_ms": round(seconds * 1000, 1), "rss_mib": round((rss - base_rss) / 2**20, 1)}
    lib = report["llmplex"]
    for other in ("openai", "aisuite"):
        report[f"llmplex/{other} import time"] = round(lib["import_ms"] / report[other]["import_ms"], 3)
        report[f"llmplex/{other} memory"] = round(lib["rss_mib"] / max(report[other]["rss_mib"], 0.1), 3)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
