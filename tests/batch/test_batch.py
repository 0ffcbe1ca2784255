"""``llmplex batch`` and ``llmplex.client.batch.run_batch`` against fault servers on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import faults  # tests/conftest.py loads tests/reliability/faults.py under this name
import pytest

from llmplex import Client
from llmplex.client.batch import BatchProgress, line_hash, run_batch

KEY = "sk-EXAMPLE-batch-0000000000000000"




def client_for(server: Any) -> Client:
    return Client({"providers": {"openai": {"api_key": KEY, "base_url": server.url + "/v1"}},
                   "defaults": {"max_retries": 0}})


def records(path: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def text_of(record: Dict[str, Any]) -> str:
    return str(record["response"]["choices"][0]["message"]["content"])


def test_every_line_shape_answered_and_bad_lines_recorded_not_fatal(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([
        '{"messages": [{"role": "user", "content": "one"}], "temperature": 0.5}',
        '{"prompt": "two"}',
        '"three"',
        "four as plain text",
        "",
        '{"messages": "not a list"}',
        '{"broken json',
        '{"neither": 1}',
        '{"prompt": "eight"}',
    ]) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    seen: List[int] = []
    with faults.FaultServer(forever=faults.echo()) as server, client_for(server) as client:
        summary = run_batch(client, "openai/gpt-4o-mini", source, output, concurrency=3,
                            progress=lambda p: seen.append(p.finished))
        bodies = [json.loads(r["body"]) for r in server.received]
    got = {r["line"]: r for r in records(output)}
    assert sorted(got) == [1, 2, 3, 4, 6, 7, 8, 9]  # the blank line 5 is not a request
    assert {n: text_of(got[n]) for n in (1, 2, 3, 4, 9)} == {1: "one", 2: "two", 3: "three", 4: "four as plain text", 9: "eight"}
    assert got[6]["error"]["type"] == "InvalidRequestError" and got[6]["error"]["field"] == "messages"
    assert got[7]["error"]["type"] == "InvalidRequestError" and "line 7: not valid JSON" in got[7]["error"]["message"]
    assert got[8]["error"]["type"] == "InvalidRequestError" and "'messages'" in got[8]["error"]["message"]
    assert got[1]["hash"] == line_hash('{"messages": [{"role": "user", "content": "one"}], "temperature": 0.5}')
    assert [b["temperature"] for b in bodies if b["messages"][-1]["content"] == "one"] == [0.5]
    assert len(bodies) == 5  # bad lines never reach the wire
    assert (summary.done, summary.failed, summary.skipped, summary.total) == (5, 3, 0, 8)
    assert seen == sorted(seen) and seen[-1] == 8


def test_vendor_errors_are_typed_masked_records_and_the_run_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n"b"\n"c"\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    refusal = faults.json_reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                                                "code": "invalid_api_key"}})
    with faults.FaultServer([faults.echo(), refusal], forever=faults.echo()) as server, client_for(server) as client:
        summary = run_batch(client, "openai/gpt-4o-mini", source, output, concurrency=1)
    got = {r["line"]: r for r in records(output)}
    assert text_of(got[1]) == "a" and text_of(got[3]) == "c"
    assert got[2]["error"]["type"] == "AuthenticationError" and got[2]["error"]["status"] == 401
    assert KEY not in output.read_text(encoding="utf-8")
    assert (summary.done, summary.failed) == (2, 1)


def test_resume_skips_answered_lines_reruns_edited_ones_and_survives_a_torn_record(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"a"\n"b"\n"c"\n"d"\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    with faults.FaultServer(forever=faults.echo()) as server, client_for(server) as client:
        run_batch(client, "openai/gpt-4o-mini", source, output, concurrency=2)
        kept = [r for r in records(output) if r["line"] in (1, 2)]
        # A crash mid-write: two whole records and a torn third.
        output.write_text("".join(json.dumps(r) + "\n" for r in kept) + '{"line": 3, "ha', encoding="utf-8")
        source.write_text('"a"\n"B edited"\n"c"\n"d"\n', encoding="utf-8")
        before = len(server.received)
        summary = run_batch(client, "openai/gpt-4o-mini", source, output, concurrency=2)
        sent = sorted(json.loads(r["body"])["messages"][-1]["content"] for r in server.received[before:])
    assert sent == ["B edited", "c", "d"]
    assert (summary.done, summary.skipped) == (3, 1)
    whole = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines() if line.endswith("}")]
    assert len(whole) == 5 and all("line" in r for r in whole)  # the torn line stays, ours start on a fresh line
    current = {(r["line"], r["hash"]): r for r in whole}
    assert {text_of(current[(n, line_hash(t))]) for n, t in [(1, '"a"'), (2, '"B edited"'), (3, '"c"'), (4, '"d"')]} \
        == {"a", "B edited", "c", "d"}


def test_progress_reports_rate_and_eta() -> None:
    progress = BatchProgress(total=10, done=4, failed=1, skipped=5, started=time.monotonic() - 1.0)
    assert progress.finished == 10
    assert 4.0 < progress.rate < 5.5
    assert progress.eta == pytest.approx(0.0)
    assert BatchProgress(total=3).eta is None


def write_config(tmp_path: Path, server: Any) -> Path:
    path = tmp_path / "llmplex.toml"
    path.write_text(f'[providers.openai]\nbase_url = "{server.url}/v1"\napi_key = "{KEY}"\n[defaults]\nmax_retries = 0\n',
                    encoding="utf-8")
    return path


def test_cli_interrupted_half_way_then_resumed_answers_every_line_exactly_once(tmp_path: Path) -> None:
    lines = [f"prompt {i}" for i in range(30)]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(t) for t in lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    slow = dataclasses.replace(faults.echo(), stall_before=0.1)
    with faults.FaultServer(forever=slow) as server:
        config = write_config(tmp_path, server)
        argv = [sys.executable, "-m", "llmplex", "--config", str(config), "batch", str(source),
                "-m", "openai/gpt-4o-mini", "-o", str(output), "--concurrency", "2"]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not output.exists() or len(records(output)) < 6):
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, first_err = process.communicate(timeout=30)
        assert process.returncode == 130, first_err
        partial = records(output)
        assert 6 <= len(partial) < len(lines)
        assert "interrupted" in first_err and "resume" in first_err
        second = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 0, second.stderr
    final = records(output)
    assert sorted(r["line"] for r in final) == list(range(1, len(lines) + 1))  # each exactly once
    assert all(text_of(r) == lines[r["line"] - 1] for r in final)
    assert len(server.received) == len(lines)  # nothing asked twice
    # Not a terminal: plain lines, no carriage-return redraws, and a closing summary.
    assert "\r" not in second.stderr
    assert f"skipped {len(partial)} of {len(lines)}" in second.stderr
    assert f"llmplex batch: {len(lines)}/{len(lines)} (done {len(lines) - len(partial)}, failed 0" in second.stderr


def test_cli_exit_code_says_some_lines_failed(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('"fine"\n{"oops\n', encoding="utf-8")
    output = tmp_path / "out.jsonl"
    with faults.FaultServer(forever=faults.echo()) as server:
        config = write_config(tmp_path, server)
        result = subprocess.run([sys.executable, "-m", "llmplex", "--config", str(config), "batch", str(source),
                                 "-m", "openai/x", "-o", str(output)], capture_output=True, text=True, timeout=60,
                                check=False, env={**os.environ, "TERM": "dumb"})
    assert result.returncode == 1
    assert "done 1, failed 1, skipped 0 of 2; tokens 0 in, 0 out" in result.stderr


def test_cli_on_a_terminal_draws_a_progress_bar_with_rate_and_eta(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    pytest.importorskip("termios")  # POSIX terminals
    import pty

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(f"p{i}") + "\n" for i in range(12)), encoding="utf-8")
    output = tmp_path / "out.jsonl"
    with faults.FaultServer(forever=faults.echo()) as server:
        config = write_config(tmp_path, server)
        primary, secondary = pty.openpty()
        import fcntl
        import struct
        import termios

        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100×24 window
        process = subprocess.Popen([sys.executable, "-m", "llmplex", "--config", str(config), "batch", str(source),
                                    "-m", "openai/x", "-o", str(output)], stdin=secondary, stdout=secondary,
                                   stderr=secondary)
        os.close(secondary)
        screen = b""
        while True:
            try:
                data = os.read(primary, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            screen += data
        os.close(primary)
        assert process.wait(timeout=60) == 0
    text = screen.decode("utf-8", "replace")
    assert "\r" in text  # redrawn in place, not one line per update
    assert "12/12" in text and "100%" in text and "req/s" in text
    assert "llmplex batch: 12/12" not in text  # the plain lines are for pipes and logs
    assert "done 12, failed 0, skipped 0 of 12" in text
    assert len(records(output)) == 12


# -- client.batch: a list in, a list out, on the same engine ------------------------------------
def _prompts(n: int) -> List[List[Dict[str, str]]]:
    return [[{"role": "user", "content": f"q{i}"}] for i in range(n)]


def test_client_batch_keeps_order_errors_in_their_slots_and_reports_progress() -> None:
    import llmplex

    seen: List[tuple] = []
    conversations = _prompts(9) + [[{"role": "nobody", "content": "x"}]] + _prompts(2)
    with faults.FaultServer(forever=faults.echo()) as server, client_for(server) as client:
        results = client.batch("openai/gpt-4o-mini", conversations, concurrency=3,
                               progress=lambda done, total: seen.append((done, total)))
        asked = sorted(json.loads(r["body"])["messages"][-1]["content"] for r in server.received)
    assert [r.text for r in results[:9]] == [f"q{i}" for i in range(9)]
    assert isinstance(results[9], llmplex.InvalidRequestError)  # refused before the wire, in its slot
    assert [r.text for r in results[10:]] == ["q0", "q1"]
    assert seen == [(i, 12) for i in range(1, 13)]
    assert asked == sorted([f"q{i}" for i in range(9)] + ["q0", "q1"])  # each sent once


def test_client_batch_bounds_concurrency_and_accepts_max_workers() -> None:
    import threading

    import llmplex

    slow = faults.completion("x")
    slow.stall_before = 0.05
    lock = threading.Lock()
    flying, high = [0], [0]

    class Counter:
        @llmplex.hookimpl
        def llmplex_before_request(self, call: Any) -> None:
            with lock:
                flying[0] += 1
                high[0] = max(high[0], flying[0])

        @llmplex.hookimpl
        def llmplex_after_response(self, call: Any, response: Any) -> None:
            with lock:
                flying[0] -= 1

    with faults.FaultServer(forever=slow) as server, client_for(server) as client:
        client.plugins.register_plugin(Counter(), name="counter")
        assert [r.text for r in client.batch("openai/m", _prompts(12), concurrency=4)] == ["x"] * 12
        assert high[0] == 4
        high[0] = 0
        assert [r.text for r in client.batch("openai/m", _prompts(6), max_workers=2)] == ["x"] * 6  # the older name
        assert high[0] == 2
        with pytest.raises(llmplex.InvalidRequestError) as info:
            client.batch("openai/m", _prompts(2), concurrency=0)
        assert info.value.field == "concurrency"
        with pytest.raises(llmplex.InvalidRequestError, match="not both"):
            client.batch("openai/m", _prompts(2), concurrency=3, max_workers=2)
        assert client.batch("openai/m", [], concurrency=2) == []


def test_client_batch_honours_the_rate_limiter() -> None:
    import llmplex

    def limited(server: Any) -> llmplex.Client:
        return llmplex.Client({"providers": {"openai": {"api_key": KEY, "base_url": server.url + "/v1",
                                                        "rate_limit": {"requests_per_minute": 60, "burst": 1}}},
                               "defaults": {"max_retries": 0}}, clock=llmplex.FixedClock(1_700_000_000))

    with faults.FaultServer(forever=faults.echo()) as server:
        with limited(server) as client:
            results = client.batch("openai/m", _prompts(3), concurrency=3)
            slept = list(client.clock.slept)  # type: ignore[attr-defined]
        sent = len(server.received)
        # Without waiting, the limiter refuses in the slot: the fixed clock stands still, so of
        # three calls at once one gets the single slot and two get RateLimitError, off the wire.
        with limited(server) as client:
            refused = client.batch("openai/m", _prompts(3), concurrency=3, rate_limit_wait=False)
        sent_fail_fast = len(server.received) - sent
    assert [r.text for r in results] == ["q0", "q1", "q2"] and sent == 3
    # burst 1 at one a second: the first goes at once and the other two wait their turn.
    assert len(slept) == 2 and all(s >= 1.0 for s in slept)
    assert sorted(type(r).__name__ for r in refused) == ["ChatResponse", "RateLimitError", "RateLimitError"]
    assert sent_fail_fast == 1


def test_client_batch_on_ctrl_c_finishes_calls_in_flight_and_starts_no_more() -> None:
    from llmplex.client.batch import run_conversations

    started: List[str] = []
    finished: List[str] = []

    class Slow:
        def chat(self, model: str, messages: Any, **params: Any) -> str:
            started.append(messages[0]["content"])
            time.sleep(0.02)
            finished.append(messages[0]["content"])
            return str(messages[0]["content"])

    def progress(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt  # what Ctrl-C raises in the calling thread

    with pytest.raises(KeyboardInterrupt):
        run_conversations(Slow(), "m", _prompts(50), concurrency=2, progress=progress)
    assert 2 <= len(started) <= 6  # no more than the window (2 x concurrency) beyond the two done
    assert sorted(finished) == sorted(started)  # every call that started ran to its end
