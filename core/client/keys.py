"""Stored keys: ``llmplex keys set`` writes them to a file only its owner can read.

They rank below the environment and the config file: a credential is taken from the
``[providers.NAME]`` table, else the vendor's environment variable, else this file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, Optional

__all__ = ["keys_path", "read_keys", "stored_key", "write_key"]


def keys_path() -> Path:
    """``$LLMPLEX_KEYS_FILE``, else ``keys.json`` in the llmplex data directory (beside the
    call log, as simonw/llm keeps its keys)."""
    override = os.environ.get("LLMPLEX_KEYS_FILE")
    if override:
        return Path(override)
    from ..calllog.paths import data_dir

    return data_dir() / "keys.json"


def read_keys() -> Dict[str, Dict[str, str]]:
    path = keys_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no file (the usual case) or an unreadable one: no stored keys
    if not isinstance(data, dict):
        return {}
    return {str(p): {str(k): str(v) for k, v in t.items()} for p, t in data.items() if isinstance(t, dict)}


def stored_key(provider: str, key: str) -> Optional[str]:
    return read_keys().get(provider, {}).get(key)


def write_key(provider: str, key: str, value: str) -> Path:
    """Store one credential; the file is created (and kept) with mode 0600."""
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = read_keys()
    keys.setdefault(provider, {})[key] = value
    temporary = path.with_name(path.name + ".tmp")
    # Opened 0600 from the first byte: the key is never readable by others, even briefly.
    fd = os.open(str(temporary), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2, sort_keys=True)
    os.chmod(str(temporary), 0o600)
    os.replace(str(temporary), str(path))
    return path
