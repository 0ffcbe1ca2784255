"""``llmplex batch``: a JSONL file of requests in, a JSONL file of results out (``llmplex.client.batch``).

Progress goes to standard error: a tqdm bar (rate, ETA) on a terminal when ``llmplex[batch]`` is
installed, otherwise a plain line at most once a second, so logs and CI output stay readable.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, Optional, TextIO

__all__ = ["add_parser", "cmd_batch"]

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(sub: Any) -> None:
    batch = sub.add_parser("batch", help="answer every line of a JSONL file of requests; resumable")
    batch.add_argument("input", help="JSONL: one request per line ({'messages': [...]}, {'prompt': ...} or a string)")
    batch.add_argument("-m", "--model", required=True, help="provider/model or an alias from [models]")
    batch.add_argument("-o", "--output", required=True, help="JSONL results, appended; lines already answered are skipped")
    batch.add_argument("-c", "--concurrency", type=int, default=4, help="calls in flight at once (default 4)")
    batch.add_argument("--temperature", type=float)
    batch.add_argument("--max-tokens", type=int)
    batch.add_argument("--progress", choices=("auto", "bar", "plain", "none"), default="auto",
                       help="auto: a bar on a terminal, plain lines otherwise")


def _plain(err: TextIO, interval: float = 1.0) -> Callable[[Any], None]:
    last = [0.0]

    def show(p: Any) -> None:
        now = time.monotonic()
        if now - last[0] < interval and p.finished < p.total:
            return
        last[0] = now
        eta = f"{p.eta:.0f}s" if p.eta is not None else "?"
        err.write(f"llmplex batch: {p.finished}/{p.total} (done {p.done}, failed {p.failed}, skipped {p.skipped})"
                  f" {p.rate:.1f}/s ETA {eta}\n")
        err.flush()

    return show


def _bar(err: TextIO, total: int) -> Optional[Any]:
    try:
        # Optional (llmplex[batch]); tqdm ships no type hints.
        from tqdm import tqdm  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    import shutil

    # A terminal that reports no size (0 columns) would get an empty bar: fall back to 80.
    return tqdm(total=total, file=err, unit="req", ncols=shutil.get_terminal_size((80, 24)).columns or 80)


def cmd_batch(args: argparse.Namespace, out: TextIO, err: Optional[TextIO] = None) -> int:
    from ..client.batch import run_batch
    from ..client.client import Client

    err = err or sys.stderr
    params = {k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens)) if v is not None}
    mode = args.progress
    if mode == "auto":
        mode = "bar" if err.isatty() else "plain"
    bar = None
    progress: Optional[Callable[[Any], None]] = None
    if mode == "bar":
        from pathlib import Path

        from ..client.batch import count_lines  # the bar needs the total up front

        bar = _bar(err, count_lines(args.input)) if Path(args.input).exists() else None
        if bar is None:
            mode = "plain"
        else:
            def progress(p: Any) -> None:
                bar.n = p.finished
                bar.set_postfix(done=p.done, failed=p.failed, skipped=p.skipped, refresh=False)
                bar.refresh()
    if mode == "plain":
        progress = _plain(err)
    with Client(args.config) as client:
        try:
            summary = run_batch(client, args.model, args.input, args.output, concurrency=args.concurrency,
                                progress=progress, **params)
        finally:
            if bar is not None:
                bar.close()
    elapsed = time.monotonic() - summary.started
    err.write(f"llmplex batch: {'interrupted; ' if summary.interrupted else ''}done {summary.done}, failed {summary.failed},"
              f" skipped {summary.skipped} of {summary.total}; tokens {summary.prompt_tokens} in,"
              f" {summary.completion_tokens} out; {elapsed:.1f}s\n")
    if summary.interrupted:
        err.write(f"llmplex batch: run the same command again to resume into {args.output}\n")
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if summary.failed else EXIT_OK
