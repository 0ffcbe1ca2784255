"""Every recording says where its content comes from, and none holds a real-looking secret."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List

import pytest

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
HTTP = sorted(CASSETTES.glob("*/*.json"))
FRAMES = sorted(CASSETTES.glob("*/*.jsonl"))
# Shapes of real credentials (the before-stop hook checks the same); fakes must say EXAMPLE/CANARY.
SECRET_SHAPES = re.compile(r"(sk-[A-Za-z0-9]{20,}|Bearer [A-Za-z0-9._-]{24,}|AKID[A-Za-z0-9]{16,}|api_secret=[^&\" ]{8,})")


def _ids(paths: List[Path]) -> List[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_there_are_recordings() -> None:
    assert len(HTTP) >= 10


@pytest.mark.parametrize("path", HTTP, ids=_ids(HTTP))
def test_http_cassette_is_vcrpy_json_with_a_source(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert data["interactions"], "a cassette needs at least one interaction"
    source = data.get("metadata", {}).get("source", "")
    assert len(source) > 20, "metadata.source must say where the content comes from"
    for interaction in data["interactions"]:
        assert interaction["request"]["method"] in ("GET", "POST")
        assert isinstance(interaction["response"]["status"]["code"], int)
        assert isinstance(interaction["response"]["body"]["string"], str)
        headers = {k.lower() for k in interaction["request"].get("headers", {})}
        assert "authorization" not in headers, "request credentials must be filtered out"


@pytest.mark.parametrize("path", FRAMES, ids=_ids(FRAMES))
def test_frame_log_starts_with_its_source(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    assert len(first["metadata"]["source"]) > 20
    for line in lines[1:]:
        json.loads(line)


@pytest.mark.parametrize("path", HTTP + FRAMES, ids=_ids(HTTP + FRAMES))
def test_no_real_looking_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    leaks = [m for m in SECRET_SHAPES.findall(text) if "EXAMPLE" not in m and "CANARY" not in m]
    assert leaks == []
