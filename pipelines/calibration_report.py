"""ECE of the top probability and the reliability diagram per class from scored per-beat CSVs.

    python pipelines/calibration_report.py NAME=DIR [NAME=DIR ...] [--figure docs/figures/reliability_ds2.png]

Each DIR holds ``<rec>.beats.csv`` written by ``ecgdl score --reference`` (columns ``p_<class>`` and
``ref_label``); beats without a matched reference beat are left out. A measurement on what was scored:
nothing here is fitted.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from ecgdl.calibration import ece, reliability_figure

CLASSES = ("N", "S", "V", "F", "Q")


def read_scored(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(proba (n, 5), reference class index (n,))`` of the matched beats of every CSV in ``folder``."""
    ps, ys = [], []
    for f in sorted(folder.glob("*.beats.csv")):
        with f.open() as fh:
            for row in csv.DictReader(fh):
                if row.get("ref_label"):
                    ps.append([float(row[f"p_{c}"]) for c in CLASSES])
                    ys.append(CLASSES.index(row["ref_label"]))
    return np.asarray(ps, np.float64), np.asarray(ys, np.int64)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="NAME=DIR")
    p.add_argument("--figure", type=Path, default=None)
    p.add_argument("--title", default="")
    a = p.parse_args(argv)
    probas, y = {}, None
    for item in a.runs:
        name, _, folder = item.partition("=")
        pr, yy = read_scored(Path(folder))
        probas[name], y = pr, yy
        print(f"{name}: {len(yy)} matched beats, ECE of the top probability {ece(pr, yy):.4f}")
    if a.figure:
        reliability_figure(probas, y, CLASSES, a.figure, title=a.title)
        print(f"wrote {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
