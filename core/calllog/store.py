"""The call log database: one SQLite file in WAL mode, safe for threads and processes.

Each write opens its own short transaction (``BEGIN IMMEDIATE``) on a connection of the calling
thread, so concurrent writers from threads and from other processes queue on SQLite's lock
(waiting up to ``timeout`` seconds) instead of corrupting the file or each other's rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

from ..errors import ConfigError

__all__ = ["CallLog", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    status TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    requested TEXT,
    stream INTEGER,
    attempt INTEGER,
    position INTEGER,
    chain TEXT,
    latency_ms REAL,
    url TEXT,
    request TEXT,
    response TEXT,
    text TEXT,
    error_type TEXT,
    error TEXT,
    http_status INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    fallbacks TEXT,
    request_id TEXT,
    conversation_id TEXT
);
CREATE INDEX IF NOT EXISTS calls_conversation ON calls (conversation_id);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    model TEXT,
    title TEXT,
    data TEXT NOT NULL
);
"""

#: The columns of a call row, in the order ``calls()`` returns them.
CALL_COLUMNS = (
    "id", "ts", "status", "provider", "model", "requested", "stream", "attempt", "position", "chain",
    "latency_ms", "url", "request", "response", "text", "error_type", "error", "http_status",
    "prompt_tokens", "completion_tokens", "total_tokens", "fallbacks", "request_id", "conversation_id",
)


class CallLog:
    """The database at ``path`` (created with its directory, owner-only, on first use)."""

    def __init__(self, path: Union[str, "Path"], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._ready = False
        self._ready_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CallLog({str(self.path)!r})"

    # -- connections ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn: Optional[sqlite3.Connection] = getattr(self._local, "conn", None)
        if conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
            except (OSError, sqlite3.Error) as exc:
                raise ConfigError(f"call log {str(self.path)!r} cannot be opened: {exc}", field="log") from None
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._local.conn = conn
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self._init(conn)
                    self._ready = True
        return conn

    def _init(self, conn: sqlite3.Connection) -> None:
        try:
            self._wal(conn)
        except sqlite3.Error as exc:
            raise ConfigError(f"call log {str(self.path)!r} cannot be opened: {exc}", field="log") from None
        conn.executescript(_SCHEMA)  # IF NOT EXISTS: any number of processes may race here
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        try:
            self.path.chmod(0o600)  # prompts and answers are private
        except OSError:
            pass

    def _wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode (readers never block the writer; persistent in the file), set by whichever
        connection gets there first. Two connections switching a new file at once can get
        "database is locked" at once, without the busy timeout (SQLite refuses to wait where
        both would wait for each other): the loser looks again until the timeout."""
        due = time.monotonic() + self.timeout
        while True:
            try:
                if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > due:
                    raise
                time.sleep(0.01)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self, sql: str, values: Any) -> int:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cursor = conn.execute(sql, values)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)

    # -- calls ---------------------------------------------------------------------------------
    def add_call(self, row: Mapping[str, Any]) -> int:
        """Insert one call (keys from :data:`CALL_COLUMNS`, ``id`` excepted); returns its id."""
        values = {k: row.get(k) for k in CALL_COLUMNS if k != "id"}
        values["ts"] = values["ts"] or time.time()
        names = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        return self._write(f"INSERT INTO calls ({names}) VALUES ({marks})", values)

    def calls(
        self, *, limit: Optional[int] = 20, search: Optional[str] = None, conversation: Optional[str] = None,
        newest_first: bool = True,
    ) -> List[Dict[str, Any]]:
        """Calls, newest first; ``search`` matches the request, the answer or the error text."""
        where, values = [], []
        if search:
            where.append("(request LIKE ? OR text LIKE ? OR error LIKE ?)")
            values += [f"%{search}%"] * 3
        if conversation:
            where.append("conversation_id = ?")
            values.append(conversation)
        sql = "SELECT * FROM calls" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id " + ("DESC" if newest_first else "ASC")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in self._connect().execute(sql, values)]

    def call(self, call_id: int) -> Optional[Dict[str, Any]]:
        row = self._connect().execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        return dict(row) if row is not None else None

    # -- conversations -------------------------------------------------------------------------
    def save_conversation(self, data: Mapping[str, Any]) -> None:
        """Insert or replace a conversation saved by ``Conversation.to_dict()``."""
        now = time.time()
        title = None
        for message in data.get("messages") or []:
            if message.get("role") == "user" and isinstance(message.get("content"), str):
                title = message["content"][:80]
                break
        self._write(
            "INSERT INTO conversations (id, created, updated, model, title, data) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET updated = excluded.updated, model = excluded.model, "
            "title = excluded.title, data = excluded.data",
            (data["id"], now, now, data.get("model"), title, json.dumps(data, ensure_ascii=False)),
        )

    def conversation(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The saved data of a conversation (an id or a unique prefix of one), or None."""
        rows = self._connect().execute(
            "SELECT data FROM conversations WHERE id = ? OR id LIKE ? ORDER BY id = ? DESC LIMIT 2",
            (conversation_id, conversation_id.replace("%", "") + "%", conversation_id),
        ).fetchall()
        if not rows:
            return None
        found: Dict[str, Any] = json.loads(rows[0]["data"])
        if len(rows) > 1 and found.get("id") != conversation_id:
            raise ConfigError(f"conversation id {conversation_id!r} is ambiguous; give more of it", field="cid")
        return found

    def latest_conversation(self) -> Optional[Dict[str, Any]]:
        row = self._connect().execute("SELECT data FROM conversations ORDER BY updated DESC, rowid DESC LIMIT 1").fetchone()
        return json.loads(row["data"]) if row is not None else None

    def conversations(self, *, limit: Optional[int] = 20) -> List[Dict[str, Any]]:
        sql = "SELECT id, created, updated, model, title FROM conversations ORDER BY updated DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in self._connect().execute(sql)]

    def iter_all(self) -> Iterator[Dict[str, Any]]:
        for row in self._connect().execute("SELECT * FROM calls ORDER BY id"):
            yield dict(row)
