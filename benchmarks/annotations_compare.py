"""``ecgdl score --annotations`` against the cardiologists' .atr through wfdb's own matcher.

Scores the DS2 records (or ``--records``) with ``--reference --annotations`` into ``--out``, reads the
written ``<record>.ecgdl`` back with ``wfdb.rdann`` and runs ``wfdb.processing.compare_annotations``
(150 ms window) against the ``.atr`` for all beats and for each AAMI class; prints the largest
difference from ecgdl's own reference comparison (``summary.json``'s ``reference``) over all of them.

    python benchmarks/annotations_compare.py --out /tmp/ann_ds2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import wfdb
from wfdb import processing

from ecgdl.annotations import AAMI_TO_MIT
from ecgdl.cli import main as ecgdl_main
from ecgdl.labels import BEAT_SYMBOLS, SYMBOL_TO_AAMI
from ecgdl.paths import database_dir
from ecgdl.reference import MATCH_TOLERANCE_S
from ecgdl.splits import DS2


def compare(data: Path, out: Path, record: str, cls: str | None) -> tuple[float, float, float, float] | None:
    """(wfdb Se, wfdb +P, ecgdl Se, ecgdl +P) of one record and class (None: all beats); None when empty."""
    mit = {v: k for k, v in AAMI_TO_MIT.items()}
    ref, ours = wfdb.rdann(str(data / record), "atr"), wfdb.rdann(str(out / record), "ecgdl")
    rs = np.array([s for s, y in zip(ref.sample, ref.symbol)
                   if y in BEAT_SYMBOLS and (cls is None or SYMBOL_TO_AAMI[y] == cls)])
    ts = np.array([s for s, y in zip(ours.sample, ours.symbol) if y in mit and (cls is None or mit[y] == cls)])
    if not len(rs) or not len(ts):
        return None
    summary = json.loads((out / f"{record}.summary.json").read_text())
    r = summary["reference"]
    got = processing.compare_annotations(rs, ts, int(round(MATCH_TOLERANCE_S * summary["source_fs"])))
    if cls is None:
        return got.sensitivity, got.positive_predictivity, r["matched"] / r["reference_beats"], \
            r["matched"] / r["detected_beats"]
    return got.sensitivity, got.positive_predictivity, r["per_class"][cls]["se"], r["per_class"][cls]["ppv"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--records", nargs="*", default=list(DS2))
    a = p.parse_args(argv)
    data = database_dir("mitdb")
    rc = ecgdl_main(["score", *(str(data / r) for r in a.records), "--out", str(a.out), "--reference",
                     "--annotations", "-q"])
    if rc not in (0, 3):
        return rc
    diffs = [abs(x - y) for r in a.records for cls in (None, "N", "S", "V", "F")
             if (c := compare(data, a.out, r, cls)) is not None for x, y in ((c[0], c[2]), (c[1], c[3]))]
    print(f"{len(diffs) // 2} (record, class) comparisons over {len(a.records)} records: "
          f"max |wfdb.processing.compare_annotations - ecgdl reference| in Se and +P = {max(diffs):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
