"""Where llmplex keeps its data: the call log, saved conversations, the REPL history, keys."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["data_dir", "log_path"]


def data_dir() -> Path:
    """``$LLMPLEX_DATA_DIR``, else the platform's user data directory plus ``llmplex``.

    Linux and the BSDs: ``$XDG_DATA_HOME/llmplex`` (``~/.local/share/llmplex``); macOS:
    ``~/Library/Application Support/llmplex``; Windows: ``%LOCALAPPDATA%\\llmplex``.
    """
    override = os.environ.get("LLMPLEX_DATA_DIR")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "llmplex"


def log_path() -> Path:
    """The call log database: ``$LLMPLEX_LOG_DB``, else ``<data dir>/logs.db``."""
    override = os.environ.get("LLMPLEX_LOG_DB")
    return Path(override) if override else data_dir() / "logs.db"
