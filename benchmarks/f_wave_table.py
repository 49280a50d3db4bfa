"""Round 16 (issue 13): the dominant atrial frequency of the QRST-cancelled residual (``ecgdl.f_waves``), per
reference rhythm, on the 22 DS1 records. DS2 is never read.

    python benchmarks/f_wave_table.py [--out benchmarks/results/f_wave_table.md]

Per beat: ``ecgdl.f_waves.f_wave_frequency`` over both conditioned leads (reference R peaks, templates per
reference AAMI class); per reference rhythm: beats, median frequency, and the share of beats below 3.5 / 4.0 /
4.5 Hz (the share an AF gate at that frequency would take away); per record: milliseconds.
"""
from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import wfdb

from ecgdl.f_waves import f_wave_frequency
from ecgdl.infer import decide_leads, model_leads, read_for_model
from ecgdl.labels import AAMI_CLASSES, to_aami
from ecgdl.metrics import percent
from ecgdl.paths import database_dir
from ecgdl.signal import ConditioningConfig, condition_record
from ecgdl.splits import DS1, assert_no_test_records

CUTS = (3.5, 4.0, 4.5)


def rhythm_of_beats(ann, sample: np.ndarray) -> np.ndarray:
    """The reference rhythm (aux note of the last ``+`` annotation) in force at each beat."""
    ch = [(s, n.strip("(\x00")) for s, sy, n in zip(ann.sample, ann.symbol, ann.aux_note) if sy == "+"]
    starts = np.array([c[0] for c in ch])
    i = np.searchsorted(starts, sample, "right") - 1
    return np.array([ch[j][1] if j >= 0 else "" for j in i])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    assert_no_test_records(DS1)
    folder = database_dir("mitdb")
    per = defaultdict(list)
    ms = []
    for r in DS1:
        rec, _ = decide_leads(read_for_model(folder / r, 360.0), None)
        x = condition_record(model_leads(rec), rec.fs, ConditioningConfig())
        ann = wfdb.rdann(str(folder / r), "atr")
        y = to_aami(ann.symbol)
        s, lab = np.asarray(ann.sample)[y >= 0], np.array(AAMI_CLASSES)[y[y >= 0]]
        t0 = time.perf_counter()
        df = f_wave_frequency(x, rec.fs, s, lab)
        ms.append((r, 1e3 * (time.perf_counter() - t0)))
        for rh, d in zip(rhythm_of_beats(ann, s), df):
            per[rh].append(d)
            per[f"{r} {rh}"].append(d)
    lines = ["| DS1 reference rhythm | beats | median Hz | " + " | ".join(f"< {c} Hz" for c in CUTS) + " |",
             "|---|---:|---:|" + "---:|" * len(CUTS)]
    for k in sorted(per, key=lambda k: (" " in k, k)):
        v = np.asarray(per[k])
        v = v[np.isfinite(v)]
        if len(v):
            lines.append(f"| {k} | {len(v)} | {np.median(v):.2f} | "
                         + " | ".join(percent(np.mean(v < c), suffix=" %") for c in CUTS) + " |")
    lines += ["", "ms per record (both leads, every beat): median %.0f, max %.0f (%s)" % (
        np.median([m for _, m in ms]), max(m for _, m in ms), max(ms, key=lambda t: t[1])[0])]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
