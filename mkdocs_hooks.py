"""mkdocs hooks: let mkdocstrings find the llmplex package, not the ``llmplex`` console script.

Run as ``mkdocs ...``, the script's folder (the venv's ``bin/``) is first on ``sys.path``, and
griffe takes ``bin/llmplex`` (the CLI launcher) for the package, finding no members. Dropping
that folder leaves the installed package (editable or not) as the only ``llmplex``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from mkdocs.plugins import event_priority


@event_priority(100)  # before mkdocstrings reads sys.path
def on_config(config: Any) -> Any:
    # Not at import: mkdocs restores sys.path after loading a hook module.
    scripts = os.path.dirname(os.path.abspath(sys.argv[0])) if sys.argv and sys.argv[0] else ""
    if scripts and os.path.isfile(os.path.join(scripts, "llmplex")):
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != scripts]
    return config
