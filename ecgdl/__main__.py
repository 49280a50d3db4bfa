"""``python -m ecgdl``: the same as the ``ecgdl`` command."""

import sys

from ecgdl.cli import main

sys.exit(main())
