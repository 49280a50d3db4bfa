"""Which records the stability check (``ecgdl/adapt_check.py``) flags, and whether flagged counts are the bad ones.

    python benchmarks/adapt_check_flags.py --oof DIR_K0 DIR_K1 [DIR_K2 ...]     # DS1 CV, consecutive pairs of draws
    python benchmarks/adapt_check_flags.py --scored OUT [OUT ...]               # `ecgdl score --reference` folders

``--oof``: the out-of-fold outputs of ``pipelines/adapt_eval.py --kmeans-seed K --save-oof DIR`` (``DIR/s<cv seed>/
<record>.npz`` with ``logits`` and ``y``), one folder per k-means seed; each consecutive pair of folders is read as the
check's two draws (the first one the output). ``--scored``: folders scored with the check on; each record's
``summary.json`` ``adapt.stability`` and its ``beats.csv`` ``label`` / ``ref_label``.

Per record and class (S, V, F with >= 10 beats called or in the reference): flagged or not, and the count's error
share, (false + missed beats) / max(reference, called). Prints the flagged records and the median error share of the
flagged and the other record-classes. Labels are only read here, to score; the check itself never reads them.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

import numpy as np

from ecgdl.adapt_check import CHECKED, stability

LETTERS = np.array(list("NSVFQ"))


def error_share(label: np.ndarray, ref: np.ndarray, c: str) -> float | None:
    """(false + missed beats of class ``c``) / max(reference, called); None under 10 beats either way."""
    n, m = int((label == c).sum()), int((ref == c).sum())
    if max(n, m) < 10:
        return None
    tp = int(((label == c) & (ref == c)).sum())
    return ((n - tp) + (m - tp)) / max(n, m)


def from_oof(dirs: list[Path]):
    for a, b in zip(dirs, dirs[1:]):
        for cv in sorted(p.name for p in a.iterdir() if p.is_dir()):
            for f in sorted((a / cv).glob("*.npz")):
                za, zb = np.load(f), np.load(b / cv / f.name)
                lab, alt = LETTERS[za["logits"].argmax(1)], LETTERS[zb["logits"].argmax(1)]
                yield f"{a.name}+{b.name}/{cv}", f.stem, lab, LETTERS[za["y"]], stability(lab, alt[:, None])


def from_scored(outs: list[Path]):
    for out in outs:
        for s in sorted(out.glob("*.summary.json")):
            rec = s.name[: -len(".summary.json")]
            part = json.loads(s.read_text())["adapt"].get("stability")
            rows = list(csv.DictReader(open(out / f"{rec}.beats.csv")))
            if part is None or not rows or "ref_label" not in rows[0]:
                continue
            yield out.name, rec, np.array([r["label"] for r in rows]), np.array([r["ref_label"] for r in rows]), part


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--oof", nargs="+", type=Path)
    g.add_argument("--scored", nargs="+", type=Path)
    a = p.parse_args(argv)
    rows = from_oof(a.oof) if a.oof else from_scored(a.scored)
    flagged, other, by_run = [], [], {}
    for run, rec, lab, ref, part in rows:
        by_run.setdefault(run, [])
        if part["unstable"]:
            by_run[run].append(f"{rec} " + ",".join(f"{c} {min(part['counts'][c])}-{max(part['counts'][c])}"
                                                     for c in part["unstable"]))
        for c in CHECKED:
            e = error_share(lab, ref, c)
            if e is not None:
                (flagged if c in part["unstable"] else other).append(e)
    for run, recs in by_run.items():
        print(f"{run}: {'; '.join(recs) or 'none flagged'}")
    for name, v in (("flagged", flagged), ("not flagged", other)):
        print(f"{name}: {len(v)} record-classes, median error share "
              f"{statistics.median(v):.2f}" if v else f"{name}: none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
