"""The distributions a package index receives: ``python -m build`` gives an sdist and, built from
that sdist, a wheel; ``twine check --strict`` accepts both.

Built offline (``--no-isolation``: the setuptools already installed by the test extra) from a
copy of the sources, so nothing is written into the repository. Building the wheel *from the
sdist* (what ``python -m build`` does with no ``--sdist``/``--wheel``) catches a file the sdist
forgot: the wheel would lack it or the build would fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ["pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "core", "providers", "cassettes"]

pytest.importorskip("build", reason="the test extra installs build")
pytest.importorskip("twine", reason="the test extra installs twine")


def _env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMPLEX_", "PIP_"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(args: List[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{args}\nstdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("dist")
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "*.egg-info")
    for item in INPUTS:
        path = ROOT / item
        if path.is_dir():
            shutil.copytree(path, source / item, ignore=ignore)
        else:
            shutil.copy2(path, source / item)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), "."], source)
    return tmp / "dist"


def test_build_gives_one_sdist_and_one_wheel(dist: Path) -> None:
    assert sorted(p.name for p in dist.iterdir()) == ["llmplex-0.1.0-py3-none-any.whl", "llmplex-0.1.0.tar.gz"]


def test_sdist_has_the_package_readme_license_and_changelog(dist: Path) -> None:
    with tarfile.open(dist / "llmplex-0.1.0.tar.gz") as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ["pyproject.toml", "README.md", "LICENSE", "core/__init__.py", "core/py.typed",
                   "core/client/client.py", "providers/__init__.py", "cassettes/__init__.py"]:
        assert needed in names, f"{needed} is not in the sdist"
    missing = sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
        if "__pycache__" not in p.parts and str(p.relative_to(ROOT)) not in names
    )
    assert missing == []


def test_wheel_carries_the_license_and_metadata(dist: Path) -> None:
    with zipfile.ZipFile(dist / "llmplex-0.1.0-py3-none-any.whl") as archive:
        names = set(archive.namelist())
        metadata = archive.read("llmplex-0.1.0.dist-info/METADATA").decode("utf-8")
    assert "llmplex-0.1.0.dist-info/licenses/LICENSE" in names
    assert "License-Expression: MIT" in metadata
    assert "Project-URL: Changelog," in metadata
    assert "Description-Content-Type: text/markdown" in metadata


def test_twine_check_accepts_both(dist: Path) -> None:
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))], dist)
    assert result.stdout.count("PASSED") == 2, result.stdout
