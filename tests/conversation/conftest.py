"""Fixtures of the conversation suite (helpers in ``servers.py``, loaded by path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest


def _load_servers() -> Any:
    path = Path(__file__).with_name("servers.py")
    found = sys.modules.get("conversation_servers")
    if found is not None and getattr(found, "__file__", None) == str(path):
        return found
    spec = importlib.util.spec_from_file_location("conversation_servers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["conversation_servers"] = module
    spec.loader.exec_module(module)
    return module


servers = _load_servers()


@pytest.fixture
def http_server() -> Iterator[Callable[..., Any]]:
    """``http_server(*steps)`` starts a FaultServer playing ``steps``; stopped after the test."""
    started: List[Any] = []

    def start(*steps: Any) -> Any:
        server = servers.faults.FaultServer(steps).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
