"""Every CLI test gets its own data directory: the call log, saved conversations and the REPL
history never touch the user's real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "llmplex-data"
    monkeypatch.setenv("LLMPLEX_DATA_DIR", str(path))
    monkeypatch.delenv("LLMPLEX_LOG_DB", raising=False)
    monkeypatch.setenv("LLMPLEX_KEYS_FILE", str(tmp_path / "no-keys" / "keys.json"))
    yield path
