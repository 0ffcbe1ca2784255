"""``python -m llmplex``: the ``llmplex`` command."""

import sys

from .cli.main import main

if __name__ == "__main__":  # importing this module (tools that walk the package) runs nothing
    sys.exit(main())
