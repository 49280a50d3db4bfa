"""The ``ecgdl`` command: thin shells over the library (``main(argv) -> exit code``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_prepare(a: argparse.Namespace) -> int:
    """Build the MIT-BIH beat dataset cache and print the AAMI counts per split."""
    from ecgdl.dataset import prepare
    from ecgdl.paths import database_dir
    from ecgdl.report import count_table
    from ecgdl.splits import ALL_RECORDS

    data = a.data or database_dir("mitdb", download=True)
    manifest = prepare(ALL_RECORDS, data, cache=a.cache, workers=a.workers, progress=not a.quiet, force=a.force)
    print("cache is current (nothing rebuilt)" if manifest["up_to_date"] else "cache rebuilt")
    print(count_table(manifest))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecgdl", description="ECG arrhythmia detection (MIT-BIH, AAMI classes).")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare", help=cmd_prepare.__doc__)
    pr.add_argument("--data", type=Path, default=None, help="mitdb folder (default: the configured data folder)")
    pr.add_argument("--cache", type=Path, default=None, help="cache folder (default: ./cache or $ECGDL_CACHE)")
    pr.add_argument("--workers", type=int, default=2)
    pr.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_prepare)
    demo = sub.add_parser("demo", help="the main job on a default that works out of the box")
    demo.set_defaults(func=cmd_prepare, data=None, cache=None, workers=2, force=False, quiet=False)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
