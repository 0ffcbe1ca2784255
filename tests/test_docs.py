"""Every ```python block in docs/ runs: the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> List[Tuple[str, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for number, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8")), start=1):
            found.append((f"{page.relative_to(DOCS)}#{number}", match.group(1)))
    return found


def test_docs_have_examples() -> None:
    assert len(blocks()) >= 8


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each example runs as in a new interpreter as far as llmplex's global state goes: no default
    client made by an earlier test, and its changes to the environment are undone afterwards."""
    import os

    import llmplex

    monkeypatch.setattr(llmplex, "_default_client", None)
    for name in [n for n in os.environ if n.startswith("LLMPLEX_")]:
        monkeypatch.delenv(name)
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("name, code", blocks(), ids=[name for name, _ in blocks()])
def test_example_runs(name: str, code: str, capsys: pytest.CaptureFixture[str], fresh_process: None) -> None:
    exec(compile(code, name, "exec"), {"__name__": f"docs_{name}"})  # noqa: S102 - our own docs
