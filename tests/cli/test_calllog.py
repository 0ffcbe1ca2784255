"""The SQLite call log: what a call leaves in it, under concurrent threads and processes, and
that no secret ever reaches it."""

from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any, List

import pytest

from llmplex import Client
from llmplex.calllog.plugin import CallLogPlugin, enable
from llmplex.calllog.store import CallLog
from llmplex.cli.main import main
from llmplex.errors import AuthenticationError, ConfigError
from llmplex.plugins.manager import Plugins

FAULTS = Path(__file__).resolve().parent.parent / "reliability" / "faults.py"
KEY = "sk-EXAMPLE-calllog-canary-7f3a9c1e55"


def _faults() -> Any:
    found = sys.modules.get("faults")
    if found is not None and getattr(found, "__file__", None) == str(FAULTS):
        return found
    spec = importlib.util.spec_from_file_location("faults", FAULTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module
    spec.loader.exec_module(module)
    return module


faults = _faults()


def _client(url: str, **providers: Any) -> Client:
    return Client(
        {"providers": {"openai": {"api_key": KEY, "base_url": url + "/v1"}, **providers},
         "defaults": {"max_retries": 0}},
        plugins=Plugins(),
    )


def test_a_call_and_a_failed_call_are_logged_with_usage_latency_and_error(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with faults.FaultServer([faults.completion("Paris."), faults.json_reply(401, {"error": {
            "message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}})]) as server:
        client = _client(server.url)
        plugin = enable(client, db)
        client.chat("openai/gpt-4o-mini", [{"role": "user", "content": "Capital of France?"}], temperature=0.1)
        with pytest.raises(AuthenticationError):
            client.chat("openai/gpt-4o-mini", [{"role": "user", "content": "Again?"}])
        plugin.disable()
    rows = CallLog(db).calls(newest_first=False)
    assert [r["status"] for r in rows] == ["ok", "error"]
    ok, failed = rows
    assert ok["provider"] == "openai" and ok["model"] == "gpt-4o-mini" and ok["text"] == "Paris."
    assert (ok["prompt_tokens"], ok["completion_tokens"], ok["total_tokens"]) == (5, 1, 6)
    assert ok["latency_ms"] is not None and ok["latency_ms"] >= 0
    assert json.loads(ok["request"])["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert json.loads(ok["request"])["temperature"] == 0.1
    assert ok["url"].endswith("/v1/chat/completions")
    assert json.loads(ok["response"])["message"]["content"] == "Paris."
    assert failed["error_type"] == "AuthenticationError" and failed["http_status"] == 401
    assert sqlite3.connect(str(db)).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (db.stat().st_mode & 0o777) == 0o600


def test_the_fallback_that_answered_is_logged(tmp_path: Path) -> None:
    db = tmp_path / "log.db"
    with faults.FaultServer([faults.json_reply(503, {"error": {"message": "overloaded"}})]) as down, \
            faults.FaultServer([faults.completion("From the backup.")]) as up:
        client = Client({
            "providers": {"primary": {"type": "openai-compatible", "base_url": down.url + "/v1", "api_key": KEY},
                          "backup": {"type": "openai-compatible", "base_url": up.url + "/v1", "api_key": KEY}},
            "models": {"robust": ["primary/m1", "backup/m2"]},
            "defaults": {"max_retries": 0},
        }, plugins=Plugins())
        enable(client, db)
        reply = client.chat("robust", [{"role": "user", "content": "Hi"}])
    rows = CallLog(db).calls(newest_first=False)
    assert reply.provider == "backup"
    assert [(r["status"], r["provider"], r["position"]) for r in rows] == [("error", "primary", 0), ("ok", "backup", 1)]
    assert json.loads(rows[1]["chain"]) == ["primary/m1", "backup/m2"]
    assert json.loads(rows[1]["fallbacks"])[0]["provider"] == "primary"


def _write_rows(path: str, worker: int, count: int) -> None:
    log = CallLog(path)
    for i in range(count):
        log.add_call({"status": "ok", "provider": f"p{worker}", "model": "m", "text": f"{worker}-{i}",
                      "request": "x" * 2000})
        if i % 10 == 0:
            log.save_conversation({"id": f"conv-{worker}", "model": "m", "messages": [
                {"role": "user", "content": f"turn {i}"}]})


def test_concurrent_threads_lose_no_row_and_corrupt_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    threads = [threading.Thread(target=_write_rows, args=(path, w, 60)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = CallLog(path).calls(limit=None)
    assert sorted(r["text"] for r in rows) == sorted(f"{w}-{i}" for w in range(8) for i in range(60))
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(CallLog(path).conversations(limit=None)) == 8


def test_concurrent_processes_lose_no_row_and_corrupt_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_rows, args=(path, w, 40)) for w in range(4)]
    for p in workers:
        p.start()
    _write_rows(path, 99, 40)  # and this process at the same time
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    rows = CallLog(path).calls(limit=None)
    expected = sorted(f"{w}-{i}" for w in (0, 1, 2, 3, 99) for i in range(40))
    assert sorted(r["text"] for r in rows) == expected
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_no_secret_reaches_the_database(tmp_path: Path, data_dir: Path) -> None:
    """The canary key is sent on every call and echoed by the vendor's error; the database
    file (WAL included) never holds it."""
    with faults.FaultServer([faults.sse(["Hi"]), faults.json_reply(401, {"error": {
            "message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}})]) as server:
        config = tmp_path / "c.toml"
        config.write_text(f'[providers.openai]\napi_key = "{KEY}"\nbase_url = "{server.url}/v1"\n'
                          '[defaults]\nmax_retries = 0\n', encoding="utf-8")
        assert main(["--config", str(config), "prompt", "Hi", "-m", "openai/gpt-4o-mini"], out=io.StringIO()) == 0
        assert main(["--config", str(config), "prompt", "Hi", "-m", "openai/gpt-4o-mini"], out=io.StringIO()) == 1
    files: List[Path] = sorted(data_dir.glob("logs.db*"))
    assert files
    rows = CallLog(data_dir / "logs.db").calls(limit=None)
    assert len(rows) == 2
    for file in files:
        assert KEY.encode() not in file.read_bytes()


def test_the_library_logs_nothing_unless_enabled(tmp_path: Path, data_dir: Path) -> None:
    with faults.FaultServer([faults.completion("x")]) as server:
        _client(server.url).chat("openai/gpt-4o-mini", [{"role": "user", "content": "Hi"}])
    assert not (data_dir / "logs.db").exists()


def test_logs_list_show_search_export_and_conversations(tmp_path: Path, data_dir: Path) -> None:
    log = CallLog(data_dir / "logs.db")
    log.add_call({"status": "ok", "provider": "openai", "model": "gpt-4o-mini", "text": "Paris is the capital.",
                  "request": json.dumps({"messages": [{"role": "user", "content": "Capital of France?"}]}),
                  "total_tokens": 22, "latency_ms": 12.5, "conversation_id": "abc123"})
    log.add_call({"status": "error", "provider": "deepseek", "model": "deepseek-chat", "error_type": "RateLimitError",
                  "error": "slow down", "request": "{}"})
    log.save_conversation({"id": "abc123", "model": "openai/gpt-4o-mini",
                           "messages": [{"role": "user", "content": "Capital of France?"}]})

    def run(*argv: str) -> str:
        out = io.StringIO()
        assert main(["logs", *argv], out=out) == 0
        return out.getvalue()

    listed = run().splitlines()
    assert len(listed) == 2 and "openai/gpt-4o-mini" in listed[0] and "RateLimitError: slow down" in listed[1]
    assert "22 tok" in listed[0]
    assert [line.split()[0] for line in run("list", "-q", "capital").splitlines()] == ["1"]
    assert [line.split()[0] for line in run("list", "--cid", "abc123").splitlines()] == ["1"]
    shown = json.loads(run("show", "1"))
    assert shown["request"]["messages"][0]["content"] == "Capital of France?"
    exported = json.loads(run("export"))
    assert [r["id"] for r in exported] == [1, 2]
    assert run("conversations").split()[0] == "abc123"
    assert json.loads(run("conversation", "abc"))["id"] == "abc123"
    assert run("path").strip() == str(data_dir / "logs.db")
    assert main(["logs", "show", "99"], out=io.StringIO()) == 2


def test_a_failing_database_warns_and_the_call_still_succeeds(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    with faults.FaultServer([faults.completion("fine")]) as server:
        client = _client(server.url)
        plugin: CallLogPlugin = enable(client, blocker / "sub" / "log.db")
        with pytest.warns(Warning):
            assert client.chat("openai/gpt-4o-mini", [{"role": "user", "content": "Hi"}]).text == "fine"
        plugin.disable()


class _LockedOnce:
    """A connection whose first switch to WAL meets another connection switching the same new
    file: SQLite answers "database is locked" at once, without waiting for the busy timeout."""

    def __init__(self, path: str) -> None:
        self.real = sqlite3.connect(path, isolation_level=None)
        self.refused = 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "PRAGMA journal_mode = WAL" and not self.refused:
            self.refused += 1
            raise sqlite3.OperationalError("database is locked")
        return self.real.execute(sql, *args)


def test_a_wal_switch_refused_by_a_racing_connection_is_tried_again(tmp_path: Path) -> None:
    path = str(tmp_path / "log.db")
    conn = _LockedOnce(path)
    CallLog(path)._wal(conn)  # type: ignore[arg-type]
    assert conn.refused == 1
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_wal_switch_that_never_gets_the_lock_is_a_config_error(tmp_path: Path) -> None:
    class AlwaysLocked(_LockedOnce):
        def execute(self, sql: str, *args: Any) -> Any:
            if sql == "PRAGMA journal_mode = WAL":
                raise sqlite3.OperationalError("database is locked")
            return self.real.execute(sql, *args)

    path = str(tmp_path / "log.db")
    log = CallLog(path, timeout=0.05)
    log._local.conn = AlwaysLocked(path)
    with pytest.raises(ConfigError, match="cannot be opened: database is locked"):
        log.add_call({"status": "ok", "provider": "p", "model": "m", "text": "x"})
