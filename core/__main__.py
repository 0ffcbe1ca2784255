"""``python -m llmplex``: the ``llmplex`` command."""

import sys

from .cli.main import main

sys.exit(main())
