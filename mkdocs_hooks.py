"""mkdocs hooks: let mkdocstrings read the ``llmplex`` package as the wheel lays it out.

The source tree maps three folders into one package (``core/`` is ``llmplex``, ``providers/``
is ``llmplex.providers``, ``cassettes/`` is ``llmplex.cassettes``; see pyproject.toml), which
griffe, reading files rather than importing, cannot follow in an editable install. Before
mkdocstrings starts, this builds that layout out of symlinks in a temporary folder and puts it
first on ``sys.path``, so the reference is generated from this checkout's sources whether
llmplex is installed editable, from a wheel, or not at all.

It also drops the console scripts' folder (the venv's ``bin/``, first on ``sys.path`` when run
as ``mkdocs ...``) from the search path, where griffe would take the ``llmplex`` launcher script
for the package.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority

ROOT = Path(__file__).resolve().parent
#: Sub-packages that live outside ``core/`` (pyproject.toml ``package-dir``).
MOUNTS = {"providers": ROOT / "providers", "cassettes": ROOT / "cassettes"}


def _layout() -> str:
    # One folder per process: `mkdocs serve` reloads the config (and calls this) on every rebuild.
    top = Path(tempfile.gettempdir()) / f"llmplex-docs-{os.getpid()}"
    package = top / "llmplex"
    if (package / "__init__.py").resolve() == ROOT / "core" / "__init__.py":
        return str(top)
    shutil.rmtree(top, ignore_errors=True)  # left by an earlier process with this pid
    package.mkdir(parents=True)
    atexit.register(shutil.rmtree, top, True)
    for entry in (ROOT / "core").iterdir():
        if entry.name != "__pycache__":
            os.symlink(entry, package / entry.name)
    for name, folder in MOUNTS.items():
        os.symlink(folder, package / name)
    return str(top)


@event_priority(100)  # before mkdocstrings reads sys.path
def on_config(config: Any) -> Any:
    # Here, not at import: mkdocs restores sys.path after loading a hook module.
    scripts = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    if scripts and os.path.isfile(os.path.join(scripts, "llmplex")):
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != scripts]
    layout = _layout()
    if layout not in sys.path:
        sys.path.insert(0, layout)
    return config
