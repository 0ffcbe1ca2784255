"""Run every benchmark, each in its own process, and print what each reports (not part of the
test suite).

Each runs in a child process: ``bench_cpu.py`` replaces the transports' I/O with canned replies,
and the import and memory figures need an interpreter of their own.

    python benchmarks/run_all.py                 # all of them
    python benchmarks/run_all.py cpu overhead    # only bench_cpu.py and bench_overhead.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
# The order the README's table lists them in: wire targets first, then the rest.
BENCHMARKS = ["cpu", "overhead", "stream", "async", "async_http", "transport", "import", "stream_memory", "redact", "limits",
              "conversation"]


def main(names: list) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {BENCHMARKS}", file=sys.stderr)
        return 2
    failed = []
    for name in names or BENCHMARKS:
        script = HERE / f"bench_{name}.py"
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=str(HERE))
        print(f"== {script.name}: {'exit ' + str(result.returncode) if result.returncode else 'ok'}"
              f" ({time.perf_counter() - start:.0f} s)\n", flush=True)
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
