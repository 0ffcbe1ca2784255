"""Loads ``vendors.py`` (the provider table) as module ``cross_vendors``: with
``--import-mode=importlib`` test directories are not on ``sys.path``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def _load() -> None:
    path = Path(__file__).with_name("vendors.py")
    found = sys.modules.get("cross_vendors")
    if found is not None and getattr(found, "__file__", None) == str(path):
        return
    spec = importlib.util.spec_from_file_location("cross_vendors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cross_vendors"] = module
    spec.loader.exec_module(module)


_load()
