"""The public surface of ``llmplex`` is pinned: ``__all__``, lazy exports, and a cheap import.

Adding a public name means adding it to ``_EXPORTS`` (where it is defined), to the literal
``__all__`` (what type checkers and ``import *`` see) and to the ``TYPE_CHECKING`` imports (what
its type is): these tests fail until the three agree.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Set

import pytest

import llmplex

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "core" / "__init__.py"

#: Defined in ``core/__init__.py`` itself rather than lazily imported.
MODULE_LEVEL = {"__version__", "chat", "stream", "default_client"}

#: What ``import llmplex`` must not import: the fast-import contract.
HEAVY = ("pydantic", "pydantic_core", "requests", "urllib3", "websockets", "pluggy", "aiohttp", "asyncio")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def _exports() -> Dict[str, str]:
    exports: Dict[str, str] = getattr(llmplex, "_EXPORTS")
    return exports


def test_all_is_sorted_unique_and_exactly_the_public_names() -> None:
    assert llmplex.__all__ == sorted(llmplex.__all__)
    assert len(set(llmplex.__all__)) == len(llmplex.__all__)
    assert set(llmplex.__all__) == set(_exports()) | MODULE_LEVEL


def test_all_is_a_literal_list_type_checkers_can_read() -> None:
    # mypy only honours a literal ``__all__``; a computed one makes ``from llmplex import
    # Client`` an error under --strict (no implicit re-export).
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    assigned = [n for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)]
    assert len(assigned) == 1
    assert ast.literal_eval(assigned[0].value) == llmplex.__all__


def test_every_lazy_export_is_imported_for_type_checkers() -> None:
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    typed: Dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1, ast.unparse(stmt)
                for alias in stmt.names:
                    typed[alias.asname or alias.name] = stmt.module or ""
    assert typed == _exports()


@pytest.mark.parametrize("name", sorted(llmplex.__all__))
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(llmplex, name)
    assert value is not None
    if name in _exports():
        module = f"llmplex.{_exports()[name]}"
        assert value is getattr(sys.modules[module], name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__ == module, f"{name} is defined in {value.__module__}, exported from {module}"
    assert name in dir(llmplex)


def test_star_import_gives_exactly_all() -> None:
    namespace: Dict[str, Any] = {}
    exec("from llmplex import *", namespace)  # noqa: S102 - the point of the test
    namespace.pop("__builtins__")
    assert sorted(namespace) == llmplex.__all__


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"module 'llmplex' has no attribute 'Clinet'"):
        llmplex.Clinet  # type: ignore[attr-defined]  # noqa: B018
    assert not hasattr(llmplex, "_no_such_private")


def test_dir_lists_public_names_and_module_dunders_only() -> None:
    listed = dir(llmplex)
    assert set(llmplex.__all__) <= set(listed)
    assert "__file__" in listed and "__path__" in listed
    assert "TYPE_CHECKING" not in listed and "import_module" not in listed


def test_version_matches_the_distribution_and_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert llmplex.__version__ == pyproject["project"]["version"] == metadata.version("llmplex")


def test_import_llmplex_is_cheap(tmp_path: Path) -> None:
    # A fresh interpreter: in this one, other tests have long imported everything.
    code = (
        "import json, sys; import llmplex; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m.startswith('llmplex.'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded: Set[str] = set(json.loads(result.stdout))
    assert loaded == set(), f"`import llmplex` imported {sorted(loaded)}; keep them lazy (PEP 562 __getattr__)"


def test_default_client_is_created_once_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import llmplex.plugins.manager as plugins_mod

    monkeypatch.setattr(llmplex, "_default_client", None)
    monkeypatch.setattr(plugins_mod, "_default", plugins_mod.Plugins(autoload=False))
    first = llmplex.default_client()
    assert isinstance(first, llmplex.Client)
    assert llmplex.default_client() is first
    # The module-level helpers go through it: with no provider registered the error says so.
    with pytest.raises(llmplex.ConfigError, match=r"unknown provider 'openai'"):
        llmplex.chat("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}])
    assert isinstance(llmplex.stream("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}]), llmplex.ChatStream)
