"""docs/support-matrix.md is generated from the declarations: it fails here when they disagree."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmplex import Capabilities
from llmplex.testing import matrix

PAGE = Path(__file__).resolve().parents[2] / "docs" / "support-matrix.md"


def test_the_page_is_the_generated_one() -> None:
    assert PAGE.read_text(encoding="utf-8") == matrix.render(), (
        "docs/support-matrix.md is stale: run python -m llmplex.testing.matrix --write docs/support-matrix.md"
    )


def test_every_builtin_provider_has_a_row_and_differing_models_have_theirs() -> None:
    rows = dict(matrix.declarations())
    assert {"openai", "hunyuan", "spark", "spark-http", "ollama"} <= set(rows)
    assert rows["spark/lite"].tools is False and rows["spark"].tools is True
    assert "spark/4.0Ultra" not in rows  # same declaration as its provider: no row of its own


def test_a_row_reads_the_declaration() -> None:
    caps = Capabilities(tools=False, tool_choice={"auto"}, top_p=None, seed=False, dropped={"seed": "no seed field"},
                        notes={"stop": "after the stop string"})
    page = matrix.render([("acme", caps)])
    row = next(line for line in page.splitlines() if line.startswith("| `acme` |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells == ["`acme`", "yes", "yes", "**no**", "yes", "auto", "**no**", "**no**", "**no**", "**no**", "**no**",
                     "yes", "dropped", "many", "0–2", "**no**"]
    assert "- `seed` is dropped: no seed field" in page and "- stop: after the stop string" in page


def test_check_reports_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "matrix.md"
    stale.write_text(PAGE.read_text(encoding="utf-8").replace("| `spark` | yes |", "| `spark` | no |"), encoding="utf-8")
    assert matrix.main(["--check", str(stale)]) == 1
    assert "is stale" in capsys.readouterr().out
    assert matrix.main(["--write", str(stale)]) == 0
    assert matrix.main(["--check", str(stale)]) == 0
