"""Fixtures of the reliability suite: loopback fault servers that are always shut down.

``faults.py`` sits next to this file; with ``--import-mode=importlib`` test directories are not
on ``sys.path``, so it is loaded here once under the module name ``faults``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, List

import pytest


def _load_faults() -> ModuleType:
    found = sys.modules.get("faults")
    if found is not None and getattr(found, "__file__", None) == str(Path(__file__).with_name("faults.py")):
        return found
    spec = importlib.util.spec_from_file_location("faults", Path(__file__).with_name("faults.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["faults"] = module
    spec.loader.exec_module(module)
    return module


faults = _load_faults()


@pytest.fixture
def http_server() -> Iterator[Callable[..., Any]]:
    """``http_server(*steps)`` starts a FaultServer playing ``steps``; stopped after the test."""
    started: List[Any] = []

    def start(*steps: Any) -> Any:
        server = faults.FaultServer(steps).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def ws_server() -> Iterator[Callable[..., Any]]:
    """``ws_server(*steps)`` starts a WSFaultServer playing ``steps``; stopped after the test."""
    started: List[Any] = []

    def start(*steps: Any) -> Any:
        server = faults.WSFaultServer(steps).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
