"""``python -m sciml`` is the ``sciml`` command."""

import sys

from .cli import main

sys.exit(main())
