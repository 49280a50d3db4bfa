"""The prepared beat dataset reproduces de Chazal et al. (2004)'s inter-patient counts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ecgdl.dataset import dataset_dir, load_beats, prepare
from ecgdl.splits import ALL_RECORDS, DS1, DS2, VAL

# de Chazal, O'Dwyer, Reilly (2004), Table: beats per AAMI class in DS1 and DS2.
PUBLISHED = {
    "DS1": {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8},
    "DS2": {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7},
}


@pytest.mark.parametrize("split,records", [("DS1", DS1), ("DS2", DS2)])
def test_counts_equal_de_chazal(prepared_cache, split, records):
    beats = load_beats(records, cache=prepared_cache)
    assert beats.counts() == PUBLISHED[split]
    assert len(beats) == sum(PUBLISHED[split].values())


def test_no_beat_is_dropped_and_edges_are_counted(prepared_cache):
    manifest = json.loads((dataset_dir(cache=prepared_cache) / "manifest.json").read_text())
    assert sorted(manifest["records"]) == sorted(ALL_RECORDS)
    for name, rec in manifest["records"].items():
        assert rec["dropped_outside_signal"] == 0, name
        assert rec["edge_beats"] >= 2, name  # first and last beats at least
        assert all(len(f["sha256"]) == 64 for f in rec["sources"].values())
    assert manifest["config"]["window"]["pre_s"] == 0.25


def test_validation_records_hold_s_and_v_beats(prepared_cache):
    counts = load_beats(VAL, cache=prepared_cache).counts()
    assert counts["S"] >= 150 and counts["V"] >= 300


def test_cached_windows_are_conditioned_two_lead_float32(prepared_cache):
    b = load_beats(["100"], cache=prepared_cache)
    assert b.x.dtype == np.float32 and b.x.shape[1:] == (2, 252)
    assert abs(float(np.median(b.x[:, 0, :20]))) < 0.2  # baseline removed
    assert not list(dataset_dir(cache=prepared_cache).glob("*.tmp*"))


def test_second_prepare_is_a_no_op_and_a_changed_source_rebuilds(mitdb_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb_dir / f"100.{ext}", data / f"100.{ext}")
    cache = tmp_path / "cache"
    first = prepare(["100"], data, cache=cache, progress=False, workers=1)
    assert not first["up_to_date"]
    assert prepare(["100"], data, cache=cache, progress=False, workers=1)["up_to_date"]
    with open(data / "100.hea", "a") as fh:
        fh.write("# edited\n")
    again = prepare(["100"], data, cache=cache, progress=False, workers=1)
    assert not again["up_to_date"]
    assert again["records"]["100"]["sources"]["100.hea"]["sha256"] != first["records"]["100"]["sources"]["100.hea"]["sha256"]


def test_missing_record_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="999.hea"):
        prepare(["999"], tmp_path, cache=tmp_path / "c", progress=False)
