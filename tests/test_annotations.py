"""``ecgdl score --annotations``: a WFDB annotation file that wfdb reads back identically and that
``wfdb.processing.compare_annotations`` scores against the .atr exactly as our reference comparison does."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import wfdb
from wfdb import processing

from ecgdl.annotations import AAMI_TO_MIT, annotation_table, rhythm_changes
from ecgdl.cli import main
from ecgdl.labels import BEAT_SYMBOLS, SYMBOL_TO_AAMI
from ecgdl.reference import MATCH_TOLERANCE_S

RECORD = "200"   # V runs, bigeminy, S and F beats


@pytest.fixture(scope="module")
def scored(mitdb_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ann")
    assert main(["score", str(mitdb_dir / RECORD), "--out", str(out), "--reference", "--annotations", "-q"]) == 0
    summary = json.loads((out / f"{RECORD}.summary.json").read_text())
    beats = np.genfromtxt(out / f"{RECORD}.beats.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
    return out, summary, beats


def test_rdann_reads_back_what_was_written(scored):
    out, summary, beats = scored
    from ecgdl.episodes import Episode

    episodes = [Episode(r["rhythm"], float(r["start_s"]), float(r["end_s"]), int(r["beats"]), None, 1.0,
                        int(r["first_beat"]), int(r["last_beat"]))
                for r in csv.DictReader((out / f"{RECORD}.episodes.csv").open())]
    sample, symbol, aux = annotation_table(beats["sample"], beats["label"], episodes, summary["source_fs"])
    ann = wfdb.rdann(str(out / RECORD), "ecgdl")
    assert np.array_equal(ann.sample, sample) and list(ann.symbol) == symbol
    assert [a or "" for a in ann.aux_note] == aux
    assert ann.fs == summary["source_fs"]
    # record 200: V bigeminy, and VT runs found through the classifier's pre-adaptation p(V) (its trigeminy
    # is gone since the adaptive step adaptive-r3t relabelled beats: docs/episodes.md, runs 13-14b)
    assert {"(B", "(VT", "(N"} <= set(aux)


@pytest.mark.parametrize("cls", [None, "N", "S", "V"])
def test_compare_annotations_equals_our_reference_comparison(mitdb_dir, scored, cls):
    """QRS (cls None) and per-class Se/+P: wfdb's matcher on the written file == summary["reference"]."""
    out, summary, _ = scored
    ref, ours = wfdb.rdann(str(mitdb_dir / RECORD), "atr"), wfdb.rdann(str(out / RECORD), "ecgdl")
    mit = {v: k for k, v in AAMI_TO_MIT.items()}
    ref_s = np.array([s for s, y in zip(ref.sample, ref.symbol)
                      if y in BEAT_SYMBOLS and (cls is None or SYMBOL_TO_AAMI[y] == cls)])
    test_s = np.array([s for s, y in zip(ours.sample, ours.symbol) if y in mit and (cls is None or mit[y] == cls)])
    got = processing.compare_annotations(ref_s, test_s, int(round(MATCH_TOLERANCE_S * summary["source_fs"])))
    r = summary["reference"]
    if cls is None:
        se, ppv = r["matched"] / r["reference_beats"], r["matched"] / r["detected_beats"]
    else:
        se, ppv = r["per_class"][cls]["se"], r["per_class"][cls]["ppv"]
    assert got.sensitivity == pytest.approx(se, abs=1e-12) and got.positive_predictivity == pytest.approx(ppv, abs=1e-12)


def test_rhythm_changes_close_episodes_and_cut_overlaps():
    from ecgdl.episodes import Episode

    samples = np.arange(0, 2000, 100)
    eps = [Episode("VT", 0.2, 0.4, 3, 150.0, 1.0, 2, 4), Episode("B", 1.0, 1.5, 6, 80.0, 1.0, 10, 15),
           Episode("T", 1.4, 1.9, 6, 80.0, 1.0, 14, 19), Episode("TACHY", 0.0, 1.9, 20, 120.0, 1.0, 0, 19)]
    assert rhythm_changes(eps, samples, 100.0) == [(200, "(VT"), (500, "(N"), (1000, "(B"), (1400, "(T")]
