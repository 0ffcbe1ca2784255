"""Third-party distributions run llmplex's conformance kit after an offline install: the echo
fixture (tests/plugins/llmplex_echo_dist) and the plugin template (examples/plugin-template).

Each is copied, installed with pip (no index, no build isolation, into a temporary target, with
llmplex already present, as a plugin's CI does), and its own tests are run with pytest in a
subprocess that sees only the installed copy and llmplex.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "echo": ROOT / "tests" / "plugins" / "llmplex_echo_dist",
    "template": ROOT / "examples" / "plugin-template",
}


def _env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPLEX_") and not k.lower().endswith("_proxy")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1", NO_PROXY="127.0.0.1")
    env.update(extra)
    return env


def _run(args: List[str], cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_distribution_installs_offline_and_passes_the_kit(name: str, tmp_path: Path) -> None:
    source = tmp_path / name
    shutil.copytree(DISTRIBUTIONS[name], source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    tests = source / "tests"
    shutil.move(str(tests), str(tmp_path / "tests"))  # the tests must use the installed copy, not the source
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--no-build-isolation", "--quiet"]
    installed = _run([*pip, "--target", str(target), str(source)], cwd=tmp_path, env=_env())
    assert installed.returncode == 0, installed.stderr
    shutil.rmtree(source)

    env = _env(PYTHONPATH=str(target))
    result = _run([sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", str(tmp_path / "tests")],
                  cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 20, summary  # the whole kit ran, not one stray test
