"""Step 1: build the inter-patient MIT-BIH beat dataset cache and print its class counts.

    python pipelines/prepare.py [--data DIR] [--cache DIR] [--workers 2] [--force] [--quiet]

Same as ``ecgdl prepare``.
"""

from __future__ import annotations

import sys

from ecgdl.cli import main

if __name__ == "__main__":
    sys.exit(main(["prepare", *sys.argv[1:]]))
