"""Run a JSONL file of requests through a client: bounded concurrency, one result per line, resumable.

Each input line is one request: an OpenAI-shaped object (``{"messages": [...], ...params}``), a
``{"prompt": "..."}`` object, or a bare string (JSON or plain text). Each result line is
``{"line": n, "hash": h, "response": {...}}`` or ``{"line": n, "hash": h, "error": {...}}``,
appended and flushed as soon as it is known, so a run stopped by Ctrl-C or a crash resumes where it
stopped: a line whose ``(line, hash)`` already has a result is skipped. Calls go through
``client.chat``, so the client's retries, deadlines and rate limits apply to every line.

:func:`run_conversations` (what ``client.batch`` runs: a list in, a list out) shares the engine,
:func:`_run_window`: a bounded thread pool over a lazily read list of jobs.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple, TypeVar, Union

from ..errors import InvalidRequestError, LLMError

__all__ = ["BatchProgress", "BatchSummary", "count_lines", "line_hash", "parse_line", "run_batch", "run_conversations"]

#: Request keys that are not call parameters.
_MESSAGE_KEYS = ("messages", "prompt")


@dataclass
class BatchProgress:
    """Counts so far; ``total`` is the number of non-blank input lines."""

    total: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.skipped

    @property
    def rate(self) -> float:
        """Requests answered (done or failed) per second in this run."""
        elapsed = time.monotonic() - self.started
        return (self.done + self.failed) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> Optional[float]:
        """Seconds left at the current rate (None before the first answer)."""
        rate = self.rate
        return (self.total - self.finished) / rate if rate > 0 else None


#: What :func:`run_batch` returns: the final counts (``interrupted`` after Ctrl-C).
@dataclass
class BatchSummary(BatchProgress):
    interrupted: bool = False


def line_hash(text: str) -> str:
    """The content key of an input line (whitespace at the ends does not count)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:16]


def parse_line(text: str, line: int) -> Tuple[Any, Dict[str, Any]]:
    """``(messages, params)`` of one input line; ``InvalidRequestError`` names what is wrong."""
    stripped = text.strip()
    try:
        value: Any = json.loads(stripped)
    except ValueError:
        if stripped[:1] in ("{", "["):
            raise InvalidRequestError(
                f"line {line}: not valid JSON; write one JSON object or a plain prompt per line", field="line"
            ) from None
        value = stripped  # a bare prompt
    if isinstance(value, str):
        return [{"role": "user", "content": value}], {}
    if not isinstance(value, dict):
        raise InvalidRequestError(
            f"line {line}: expected an object with 'messages' or 'prompt', or a string; got {type(value).__name__}",
            field="line",
        )
    params = {k: v for k, v in value.items() if k not in _MESSAGE_KEYS and k != "model"}
    if "messages" in value:
        return value["messages"], params
    if isinstance(value.get("prompt"), str):
        return [{"role": "user", "content": value["prompt"]}], params
    raise InvalidRequestError(
        f"line {line}: needs 'messages' (a list of messages) or 'prompt' (a string)", field="messages"
    )


def _done_keys(output: Path) -> Set[Tuple[int, str]]:
    """``(line, hash)`` of every complete result already in ``output`` (a torn last line is ignored)."""
    keys: Set[Tuple[int, str]] = set()
    if not output.exists():
        return keys
    with output.open("r", encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
                keys.add((int(record["line"]), str(record["hash"])))
            except (ValueError, KeyError, TypeError):
                continue
    return keys


def _error_record(error: LLMError, redact: Callable[[str], str]) -> Dict[str, Any]:
    record: Dict[str, Any] = {"type": type(error).__name__, "message": redact(str(error))}
    for name in ("status", "code", "field", "provider", "model", "attempts"):
        value = getattr(error, name, None)
        if value is not None:
            record[name] = redact(value) if isinstance(value, str) else value
    return record


def _lines(path: Path) -> Iterator[Tuple[int, str]]:
    with path.open("r", encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield number, text


def count_lines(path: Union[str, Path]) -> int:
    """The number of requests in ``path`` (its non-blank lines)."""
    return sum(1 for _ in _lines(Path(path)))


def _open_for_append(output: Path) -> IO[str]:
    # A crash may have torn the last record: start ours on a fresh line.
    torn = False
    if output.exists() and output.stat().st_size:
        with output.open("rb") as handle:
            handle.seek(-1, 2)
            torn = handle.read(1) != b"\n"
    handle_out = output.open("a", encoding="utf-8")
    if torn:
        handle_out.write("\n")
    return handle_out


def run_batch(
    client: Any,
    model: str,
    source: Union[str, Path],
    output: Union[str, Path],
    *,
    concurrency: int = 4,
    progress: Optional[Callable[[BatchProgress], None]] = None,
    **params: Any,
) -> BatchSummary:
    """Answer every line of ``source`` into ``output`` (JSONL), skipping lines already answered.

    At most ``concurrency`` calls are in flight, and at most ``2 × concurrency`` lines are held in
    memory. A line that fails (bad input, vendor or network error) gets an ``error`` record; the
    run goes on. ``params`` are defaults that a line's own keys override. ``progress`` is called
    after every line (from the calling thread). On Ctrl-C no new line starts, the calls in flight
    finish and are recorded, and the summary has ``interrupted=True``.
    """
    if concurrency < 1:
        raise InvalidRequestError("concurrency: must be at least 1", field="concurrency")
    source, output = Path(source), Path(output)
    if not source.exists():
        raise InvalidRequestError(f"input: no such file {str(source)!r}", field="input")
    total = count_lines(source)
    done = _done_keys(output)
    summary = BatchSummary(total=total)
    redact: Callable[[str], str] = client.redactor.text if hasattr(client, "redactor") else (lambda s: s)

    def call(number: int, text: str) -> Dict[str, Any]:
        try:
            messages, own = parse_line(text, number)
            reply = client.chat(model, messages, **{**params, **own})
        except LLMError as exc:
            return {"error": _error_record(exc, redact)}
        return {"response": reply.model_dump(mode="json", exclude={"raw"})}

    with _open_for_append(output) as out:

        def record(number: int, key: str, result: Dict[str, Any]) -> None:
            out.write(json.dumps({"line": number, "hash": key, **result}, ensure_ascii=False) + "\n")
            out.flush()
            if "error" in result:
                summary.failed += 1
            else:
                summary.done += 1
                usage = result["response"].get("usage") or {}
                summary.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                summary.completion_tokens += int(usage.get("completion_tokens") or 0)
            if progress is not None:
                progress(summary)

        def jobs() -> Iterator[Tuple[Tuple[int, str], Callable[[], Dict[str, Any]]]]:
            for number, text in _lines(source):
                key = line_hash(text)
                if (number, key) in done:
                    summary.skipped += 1
                    if progress is not None:
                        progress(summary)
                    continue
                yield (number, key), partial(call, number, text)

        summary.interrupted = _run_window(jobs(), lambda tag, result: record(tag[0], tag[1], result), concurrency)
    return summary


def run_conversations(
    client: Any,
    model: str,
    conversations: Sequence[Any],
    *,
    concurrency: int = 4,
    progress: Optional[Callable[[int, int], Any]] = None,
    **params: Any,
) -> List[Any]:
    """``client.batch``: every conversation through ``client.chat`` (so its retries, deadlines,
    fallbacks and rate limits apply), at most ``concurrency`` at once; the list returned holds
    each conversation's reply or the ``LLMError`` it raised, in the input's order.
    ``progress(done, total)`` is called from the calling thread as each one ends. On Ctrl-C no
    new conversation starts, the calls in flight finish, and ``KeyboardInterrupt`` propagates."""
    _check_concurrency(concurrency)
    items = list(conversations)
    results: List[Any] = [None] * len(items)
    finished = 0

    def call(messages: Any) -> Any:
        try:
            return client.chat(model, messages, **params)
        except LLMError as exc:
            return exc

    def record(index: int, result: Any) -> None:
        nonlocal finished
        results[index] = result
        finished += 1
        if progress is not None:
            progress(finished, len(items))

    jobs = ((index, partial(call, messages)) for index, messages in enumerate(items))
    if _run_window(jobs, record, concurrency):
        raise KeyboardInterrupt
    return results


def _check_concurrency(concurrency: Any) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequestError(f"concurrency must be a positive integer, got {concurrency!r}", field="concurrency")


_T = TypeVar("_T")


def _run_window(jobs: Iterator[Tuple[_T, Callable[[], Any]]], record: Callable[[_T, Any], None], concurrency: int) -> bool:
    """The batch engine: run each ``(tag, job)`` on a pool of ``concurrency`` threads, holding at
    most ``2 × concurrency`` jobs at once (``jobs`` is read lazily), and hand each result to
    ``record(tag, result)`` in the calling thread as it ends. On Ctrl-C no new job starts and the
    jobs in flight finish and are recorded; returns True then (False when every job ran).
    An exception a job raises (other than the errors the job turns into results) propagates."""
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="llmplex-batch")
    running: Dict[Future[Any], _T] = {}
    try:
        try:
            for tag, job in jobs:
                running[pool.submit(job)] = tag
                while len(running) >= 2 * concurrency:
                    _drain(running, record)
            while running:
                _drain(running, record)
            return False
        except KeyboardInterrupt:
            # Calls in flight are already paid for: wait for them and keep their answers.
            for future in list(running):
                future.cancel()
            while running:
                _drain(running, record)
            return True
    finally:
        pool.shutdown(wait=True)


def _drain(running: Dict[Future[Any], _T], record: Callable[[_T, Any], None]) -> None:
    finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
    for future in sorted(finished, key=lambda f: running[f]):  # type: ignore[arg-type,return-value]  # tags of one run compare
        tag = running.pop(future)
        if future.cancelled():
            continue
        record(tag, future.result())
