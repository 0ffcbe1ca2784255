"""Run every benchmark and print one JSON report (not part of the test suite)."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_conversation  # noqa: E402
import bench_import  # noqa: E402
import bench_limits  # noqa: E402
import bench_overhead  # noqa: E402
import bench_redact  # noqa: E402
import bench_stream  # noqa: E402

if __name__ == "__main__":
    report = {"import": bench_import.main(), "overhead": bench_overhead.main(), "stream": bench_stream.main(),
              "redact": bench_redact.main(), "limits": bench_limits.main(),
              "conversation": bench_conversation.main()}
    print(json.dumps(report, indent=2))
