"""`ecgdl score` through main([...]) on short excerpts of real records written into tmp_path."""

from __future__ import annotations

import csv
import json
import subprocess

import pytest

from ecgdl.cli import main
from infer_fixtures import model_for_tests, shipped_model, write_excerpt

pytest.importorskip("onnxruntime")

RECORDS = ("100", "119", "208")  # normal rhythm; ventricular bigeminy; PVCs, couplets


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, mitdb_dir):
    return model_for_tests(tmp_path_factory, mitdb_dir)


@pytest.fixture(scope="module")
def excerpts(tmp_path_factory, mitdb_dir):
    folder = tmp_path_factory.mktemp("records")
    for r in RECORDS:
        write_excerpt(mitdb_dir / r, folder, r, start_s=60.0, seconds=180.0)
    return folder


def _score(args, model_path):
    return main(["score", *map(str, args), "--model", str(model_path), "--device", "cpu", "--quiet"])


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_folder_scored_with_every_output(excerpts, model_path, tmp_path):
    out = tmp_path / "out"
    assert _score([excerpts, "--out", out, "--reference"], model_path) == 0
    for r in RECORDS:
        beats = _rows(out / f"{r}.beats.csv")
        summary = json.loads((out / f"{r}.summary.json").read_text())
        assert len(beats) == summary["beats"] > 150
        assert {"sample", "time_s", "label", "p_N", "p_V", "ref_label"} <= set(beats[0])
        assert summary["reference"]["matched"] / summary["reference"]["reference_beats"] > 0.97
        assert int(beats[-1]["sample"]) < 180 * 360
    table = _rows(out / "summary.csv")
    assert [row["record"] for row in table] == list(RECORDS) and {row["status"] for row in table} == {"ok"}
    ref = json.loads((out / "reference.json").read_text())
    assert ref["records"] == list(RECORDS)
    assert ref["reference_beats"] == sum(int(json.loads((out / f"{r}.summary.json").read_text())
                                             ["reference"]["reference_beats"]) for r in RECORDS)
    assert not list(out.glob("*.tmp"))


def test_resume_after_interruption_loses_nothing(excerpts, model_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert _score([excerpts / "*.hea", "--out", out], model_path) == 0
    first = {p.name: p.read_text() for p in out.glob("*.beats.csv")}
    summary_mtime = (out / "100.summary.json").stat().st_mtime_ns
    # an interrupted run: one record's beats file gone, a half-written temp file left behind
    (out / "119.beats.csv").unlink()
    gone = subprocess.Popen(["true"])
    gone.wait()  # the pid of a process that has exited: its temp file is stale
    (out / f"208.summary.json.0badc0de.{gone.pid}.tmp").write_text('{"half": ')  # atomic_write's naming
    capsys.readouterr()
    assert _score([excerpts / "*.hea", "--out", out], model_path) == 0
    assert "1 scored, 2 already done" in capsys.readouterr().out
    assert {p.name: p.read_text() for p in out.glob("*.beats.csv")} == first
    assert (out / "100.summary.json").stat().st_mtime_ns == summary_mtime  # skipped, not rewritten
    assert not list(out.glob("*.tmp"))
    assert {row["status"] for row in _rows(out / "summary.csv")} == {"ok"}  # the table does not depend on resuming
    assert {r["status"] for r in json.loads((out / "run.json").read_text())["records"]} == {"ok", "skipped"}
    assert _score([excerpts / "*.hea", "--out", out, "--force", "--workers", "2"], model_path) == 0
    assert "3 scored, 0 already done" in capsys.readouterr().out
    assert {p.name: p.read_text() for p in out.glob("*.beats.csv")} == first  # same result from 2 processes


def test_bad_record_is_reported_and_the_rest_go_on(excerpts, model_path, tmp_path, mitdb_dir, capsys):
    bad_dir = tmp_path / "bad"
    write_excerpt(mitdb_dir / "105", bad_dir, "105", seconds=60.0)
    dat = bad_dir / "105.dat"
    dat.write_bytes(dat.read_bytes()[: dat.stat().st_size // 2])  # truncated signal file
    out = tmp_path / "out"
    code = _score([excerpts / "100", bad_dir / "105.hea", excerpts / "208.hea", "--out", out], model_path)
    assert code == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "105" in err and "truncated" in err
    rows = {row["record"]: row for row in _rows(out / "summary.csv")}
    assert rows["105"]["status"] == "error" and "truncated" in rows["105"]["error"]
    assert rows["100"]["status"] == rows["208"]["status"] == "ok"
    assert (out / "208.summary.json").is_file() and not (out / "105.summary.json").exists()


def test_reference_beats_give_the_evaluation_table(excerpts, model_path, tmp_path, mitdb_dir):
    """--use-reference-beats: the per-class table equals metrics over the same beats' predictions."""
    from ecgdl.dataset import record_beats
    from ecgdl.infer import BeatClassifier
    from ecgdl.metrics import confusion_matrix

    out = tmp_path / "out"
    assert _score([excerpts / "208", "--out", out, "--use-reference-beats", "--no-adapt"], model_path) == 0
    ref = json.loads((out / "reference.json").read_text())
    beats = record_beats(excerpts / "208")[0]
    pred = BeatClassifier(model_path, device="cpu").predict_proba(beats).argmax(1)
    assert ref["confusion"] == confusion_matrix(beats.y, pred).tolist()
    assert sum(ref["missed"]) == 0 and sum(ref["extra"]) == 0


def test_parquet_format(excerpts, model_path, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "out"
    assert _score([excerpts / "100", "--out", out, "--format", "parquet"], model_path) == 0
    table = pq.read_table(out / "100.beats.parquet")
    assert {"sample", "label", "p_N"} <= set(table.column_names) and table.num_rows > 150


def test_missing_path_is_an_error(model_path, tmp_path, capsys):
    assert _score([tmp_path / "nope", "--out", tmp_path / "out"], model_path) == 2
    assert "nope" in capsys.readouterr().err


def test_demo_scores_the_default_record(tmp_path, capsys, mitdb_dir):
    if shipped_model() is None:
        pytest.skip("no model shipped under ecgdl/shipped/ yet")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    assert "Beats per class" in text and "Heart rate" in text and "V events" in text


@pytest.mark.parametrize("args, expected", [
    (["{d}"], ["100", "119", "208"]),
    (["{d}/2*.hea"], ["208"]),
    (["{d}/100.dat", "{d}/119.hea", "{d}/208"], ["100", "119", "208"]),
    (["{d}/100", "{d}/100.hea"], ["100"]),  # the same record twice is scored once
])
def test_records_from_files_folders_and_globs(excerpts, args, expected):
    from ecgdl.batch import find_records, output_names

    found = find_records([a.format(d=excerpts) for a in args])
    assert list(output_names(found).values()) == expected
