"""Fit the lead-orientation model (``ecgdl/shipped/lead_orientation.json``) on DS1's named leads.

Each DS1 record (22, paced excluded) is cut into 2-minute segments; each segment's median beat per
channel (:func:`ecgdl.leads.median_beats`) is measured (:func:`ecgdl.leads.beat_features`), at 360 Hz
and after a round trip through 128 Hz. From the names we know which channel is MLII: the limb model
learns MLII-vs-other from the difference of the two channels' polarity-free features (both orders),
the single-lead model MLII vs precordial from one channel, the inversion model upright vs inverted
from the MLII channel's polarity features (both signs). The regularisation ``C`` of each is chosen by
leave-one-record-out cross-validation over the 22 records (the accuracy reported per segment), then
each model is refitted on all of DS1. DS2 is never read.

    python pipelines/lead_model.py [--out ecgdl/shipped/lead_orientation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ecgdl.io import Record, read_record
from ecgdl.leads import beat_features, median_beats, normalised_beat
from ecgdl.paths import data_dir
from ecgdl.signal import resample
from ecgdl.splits import DS1, DS2, PACED

SEGMENT_S = 120.0
C_GRID = (0.01, 0.1, 1.0, 10.0)


def segments(rec: Record, seconds: float = SEGMENT_S) -> list[Record]:
    """``rec`` cut into consecutive pieces of ``seconds`` (the last partial one dropped)."""
    n = int(seconds * rec.fs)
    return [Record(name=f"{rec.name}_{i}", signal=rec.signal[s:s + n], fs=rec.fs, leads=rec.leads, source_fs=rec.fs)
            for i, s in enumerate(range(0, rec.signal.shape[0] - n + 1, n))]


def collect(records: list[str], mitdb: Path) -> list[dict]:
    """One row per (record, rate, segment): the MLII and the other channel's median beats."""
    rows = []
    for r in records:
        assert r not in DS2, "DS2 never reaches the lead model"
        full = read_record(mitdb / r, annotator=None)
        mlii = full.primary_lead()
        other = 1 - mlii
        for rate in (360.0, 128.0):
            rec = full if rate == 360.0 else Record(**{**full.__dict__, "signal": resample(
                resample(full.signal, 360.0, rate), rate, 360.0).astype(np.float32)})
            for seg in segments(rec):
                beats = median_beats(seg)
                if beats is not None:
                    rows.append({"record": r, "rate": rate, "mlii": beats[mlii], "other": beats[other],
                                 "other_name": full.leads[other]})
        print(f"{r}: {sum(x['record'] == r for x in rows)} segments", file=sys.stderr)
    return rows


def templates(rows: list[dict], fs: float) -> SimpleNamespace:
    """Mean normalised MLII and precordial median beats of ``rows``."""
    return SimpleNamespace(mlii_template=np.mean([normalised_beat(x["mlii"], fs) for x in rows], axis=0),
                           v_template=np.mean([normalised_beat(x["other"], fs) for x in rows], axis=0))


def design(rows: list[dict], tmpl, fs: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """X, y of the three models from ``rows`` (features against the templates ``tmpl``)."""
    fm = [beat_features(x["mlii"], fs, tmpl) for x in rows]
    fo = [beat_features(x["other"], fs, tmpl) for x in rows]
    d = np.array([a["even"] - b["even"] for a, b in zip(fm, fo)])
    e = np.array([f["even"] for f in fm + fo])
    o = np.array([f["odd"] for f in fm])
    n = len(rows)
    return {"limb": (np.vstack([d, -d]), np.r_[np.ones(n), np.zeros(n)]),
            "single": (e, np.r_[np.ones(n), np.zeros(n)]),
            "invert": (np.vstack([o, -o]), np.r_[np.ones(n), np.zeros(n)])}


def fit(X: np.ndarray, y: np.ndarray, C: float, intercept: bool):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, fit_intercept=intercept, max_iter=2000).fit(X, y)


def scales(rows: list[dict], tmpl, fs: float) -> np.ndarray:
    e = np.array([beat_features(x[k], fs, tmpl)["even"] for x in rows for k in ("mlii", "other")])
    return e.std(axis=0) + 1e-6


def cross_validate(rows: list[dict], fs: float) -> dict:
    """Leave-one-record-out accuracy per model and C (templates and scales refitted per fold)."""
    records = sorted({x["record"] for x in rows})
    acc = {m: {C: [] for C in C_GRID} for m in ("limb", "single", "invert")}
    for r in records:
        train = [x for x in rows if x["record"] != r]
        test = [x for x in rows if x["record"] == r]
        tmpl = templates(train, fs)
        sc = scales(train, fs=fs, tmpl=tmpl)
        tr, te = design(train, tmpl, fs), design(test, tmpl, fs)
        for m in acc:
            div = 1.0 if m == "invert" else sc
            for C in C_GRID:
                clf = fit(tr[m][0] / div, tr[m][1], C, m == "single")
                acc[m][C].append(clf.predict(te[m][0] / div) == te[m][1])
    return {m: {C: float(np.mean(np.concatenate(v))) for C, v in by_c.items()} for m, by_c in acc.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("ecgdl/shipped/lead_orientation.json"))
    ap.add_argument("--data", type=Path, default=None)
    a = ap.parse_args(argv)
    mitdb = a.data or data_dir() / "mitdb"
    records = [r for r in DS1 if r not in PACED]
    out = build_model(collect(records, mitdb), records)
    a.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["info"], indent=1))
    return 0


def build_model(rows: list[dict], records: list[str], fs: float = 360.0) -> dict:
    """The sidecar dict: C chosen by :func:`cross_validate`, the three models refitted on every row."""
    cv = cross_validate(rows, fs)
    best = {m: max(by_c, key=by_c.get) for m, by_c in cv.items()}
    tmpl = templates(rows, fs)
    sc = scales(rows, tmpl, fs)
    X = design(rows, tmpl, fs)
    models = {m: fit(X[m][0] / (1.0 if m == "invert" else sc), X[m][1], best[m], m == "single") for m in X}
    out = {"limb_w": models["limb"].coef_[0].tolist(), "single_w": models["single"].coef_[0].tolist(),
           "single_b": float(models["single"].intercept_[0]), "invert_w": models["invert"].coef_[0].tolist(),
           "scale": sc.tolist(), "mlii_template": tmpl.mlii_template.tolist(), "v_template": tmpl.v_template.tolist(),
           "info": {"records": records, "segment_s": SEGMENT_S, "rates_hz": [360, 128], "segments": len(rows),
                    "cv": "leave-one-record-out over DS1, per segment",
                    "cv_accuracy": {m: {str(C): round(v, 4) for C, v in by_c.items()} for m, by_c in cv.items()},
                    "C": best, "made_by": "pipelines/lead_model.py"}}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
