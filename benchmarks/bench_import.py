"""Cold import time and resident memory of `import llmplex` against openai and aisuite.

Each figure is the median of fresh interpreter runs; memory is the growth of peak RSS over an
interpreter that imports nothing. Each child measures itself: ``VmHWM`` from /proc/self/status,
read inside the child as it ends. (``ru_maxrss`` is wrong here on Linux: a child started from a
big parent reports the parent's high-water mark, so llmplex showed +0.0 MiB and openai 30 MiB
where they grow by about 2 and 50.) Elsewhere (macOS) the child's own ``ru_maxrss`` is used.
Run: python benchmarks/bench_import.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from typing import Optional, Tuple

PROBE = r"""
import resource, sys, time
t0 = time.perf_counter()
{stmt}
elapsed = time.perf_counter() - t0
try:
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
except OSError:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
print(elapsed, rss)
"""

CASES = {
    "nothing": "pass",
    "llmplex": "import llmplex",
    "llmplex (first Client)": "import llmplex; llmplex.Client({})",
    "openai": "import openai",
    "aisuite": "import aisuite",
}


def measure(stmt: str, runs: int) -> Optional[Tuple[float, float]]:
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(stmt=stmt)], capture_output=True, text=True, check=False)
        if out.returncode:
            return None  # not installed here: reported as such, not as a figure
        t, r = out.stdout.split()
        times.append(float(t))
        rss.append(float(r))
    return statistics.median(times), statistics.median(rss)


def main(runs: int = 9) -> dict:
    results = {name: measure(stmt, runs) for name, stmt in CASES.items()}
    base = results["nothing"]
    assert base is not None
    report: dict = {"nothing (baseline)": {"import_ms": round(base[0] * 1000, 2), "peak_rss_mib": round(base[1] / 2**20, 1)}}
    for name, found in results.items():
        if name == "nothing":
            continue
        if found is None:
            report[name] = "not installed"
            continue
        seconds, rss = found
        report[name] = {"import_ms": round(seconds * 1000, 1), "rss_mib": round((rss - base[1]) / 2**20, 1)}
    lib = report["llmplex"]
    for other in ("openai", "aisuite"):
        if not isinstance(report[other], dict):
            continue
        report[f"llmplex/{other} import time"] = round(lib["import_ms"] / report[other]["import_ms"], 3)
        report[f"llmplex/{other} memory"] = round(lib["rss_mib"] / max(report[other]["rss_mib"], 0.1), 3)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
