"""Fit the lead-orientation model (``ecgdl/shipped/lead_orientation.json``) on DS1's named leads.

Each DS1 record (22, paced excluded) is cut into 2-minute segments; each segment's median beat per
channel (:func:`ecgdl.leads.median_beats`) is measured (:func:`ecgdl.leads.beat_features`), at 360 Hz
and after a round trip through 128 Hz. From the names we know which channel is MLII: the limb model
learns MLII-vs-other from the difference of the two channels (both orders),
the single-lead model MLII vs precordial from one channel, the inversion model upright vs inverted
from the MLII channel's polarity features (both signs). The limb and single-lead models read each
lead's match to a library of DS1 median beats (:func:`ecgdl.leads.library_match`, a segment's own
record left out); the alternative measured beside them reads the even features directly. The
regularisation ``C`` of each is chosen by leave-one-record-out cross-validation over the 22 records
(record-level accuracy first, segment-level second), then each model is refitted on all of DS1. DS2
is never read.

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
from ecgdl.leads import beat_features, library_match, median_beats, normalised_beat
from ecgdl.paths import data_dir
from ecgdl.signal import resample
from ecgdl.splits import DS1, DS2, PACED

SEGMENT_S = 120.0
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)


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


def library(rows: list[dict], fs: float) -> dict[str, dict[str, np.ndarray]]:
    """Per record of ``rows``: its MLII and precordial normalised median beats (median over its 360 Hz segments)."""
    out = {}
    for r in sorted({x["record"] for x in rows}):
        mine = [x for x in rows if x["record"] == r and x["rate"] == 360.0]
        out[r] = {k: np.median([normalised_beat(x[k], fs) for x in mine], axis=0) for k in ("mlii", "other")}
    return out


def matches(rows: list[dict], lib: dict, fs: float) -> np.ndarray:
    """``(n, 2, 2)``: per row, the MLII / other channel's library match, the row's own record left out."""
    out = []
    for x in rows:
        keep = [r for r in lib if r != x["record"]]
        lm_, lv = (np.array([lib[r][k] for r in keep]) for k in ("mlii", "other"))
        out.append([library_match(normalised_beat(x[k], fs), lm_, lv) for k in ("mlii", "other")])
    return np.array(out)


def design(rows: list[dict], tmpl, lib: dict, fs: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """X, y of the models from ``rows``: "features" (even-feature differences, the alternative measured),
    "limb" (library-match differences, both orders), "single", "invert" (odd features, both signs)."""
    fm = [beat_features(x["mlii"], fs, tmpl) for x in rows]
    fo = [beat_features(x["other"], fs, tmpl) for x in rows]
    d = np.array([a["even"] - b["even"] for a, b in zip(fm, fo)])
    m = matches(rows, lib, fs)
    dm = m[:, 0] - m[:, 1]
    o = np.array([f["odd"] for f in fm])
    n = len(rows)
    y = np.r_[np.ones(n), np.zeros(n)]
    return {"features": (np.vstack([d, -d]) / (d.std(axis=0) + 1e-6), y), "limb": (np.vstack([dm, -dm]), y),
            "single": (np.vstack([m[:, 0], m[:, 1]]), y), "invert": (np.vstack([o, -o]), y)}


def fit(X: np.ndarray, y: np.ndarray, C: float, intercept: bool):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, fit_intercept=intercept, max_iter=2000).fit(X, y)


def cross_validate(rows: list[dict], fs: float) -> dict:
    """Leave-one-record-out accuracy per model and C: per segment, and per record and rate (the mean of
    the record's segment logits, as a whole record is decided); templates and library refitted per fold."""
    records = sorted({x["record"] for x in rows})
    seg = {m: {C: [] for C in C_GRID} for m in ("features", "limb", "single", "invert")}
    rec = {m: {C: [] for C in C_GRID} for m in seg}
    for r in records:
        train = [x for x in rows if x["record"] != r]
        test = [x for x in rows if x["record"] == r]
        tmpl, lib = templates(train, fs), library(train, fs)
        tr, te = design(train, tmpl, lib, fs), design(test, tmpl, lib, fs)
        rate = np.r_[[x["rate"] for x in test], [x["rate"] for x in test]]
        for m in seg:
            for C in C_GRID:
                clf = fit(tr[m][0], tr[m][1], C, m == "single")
                z = clf.decision_function(te[m][0])
                right = (z > 0) == (te[m][1] == 1)
                seg[m][C].append(right)
                for q in (360.0, 128.0):
                    for y in (0, 1):
                        sel = (rate == q) & (te[m][1] == y)
                        rec[m][C].append((z[sel].mean() > 0) == (y == 1))
    return {"segment": {m: {C: float(np.mean(np.concatenate(v))) for C, v in by.items()} for m, by in seg.items()},
            "record": {m: {C: float(np.mean(v)) for C, v in by.items()} for m, by in rec.items()}}


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
    """The sidecar dict: C chosen by :func:`cross_validate` (record-level accuracy, then segment-level),
    the models refitted on every row. Raises when the even-feature alternative beats the library match
    for the lead order (the scoring code reads the library model only)."""
    cv = cross_validate(rows, fs)
    score = {m: {C: (cv["record"][m][C], cv["segment"][m][C]) for C in C_GRID} for m in cv["record"]}
    best = {m: max(by, key=by.get) for m, by in score.items()}
    if score["features"][best["features"]] > score["limb"][best["limb"]]:
        raise SystemExit(f"the even-feature lead-order model wins the CV {score}: ecgdl.leads reads the library model")
    tmpl, lib = templates(rows, fs), library(rows, fs)
    X = design(rows, tmpl, lib, fs)
    models = {m: fit(X[m][0], X[m][1], best[m], m == "single") for m in ("limb", "single", "invert")}
    out = {"limb_w": models["limb"].coef_[0].tolist(), "single_w": models["single"].coef_[0].tolist(),
           "single_b": float(models["single"].intercept_[0]), "invert_w": models["invert"].coef_[0].tolist(),
           "mlii_template": tmpl.mlii_template.tolist(), "v_template": tmpl.v_template.tolist(),
           "library_mlii": [lib[r]["mlii"].tolist() for r in lib], "library_v": [lib[r]["other"].tolist() for r in lib],
           "info": {"records": records, "segment_s": SEGMENT_S, "rates_hz": [360, 128], "segments": len(rows),
                    "cv": "leave-one-record-out over DS1; record = mean segment logit per record and rate",
                    "cv_accuracy": {lvl: {m: {str(C): round(v, 4) for C, v in by.items()} for m, by in d.items()}
                                    for lvl, d in cv.items()},
                    "C": best, "made_by": "pipelines/lead_model.py"}}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
