"""The run's Parquet dataset and `ecgdl query`: answers checked against the per-record JSON files."""

from __future__ import annotations

import json

import pytest

from ecgdl.cli import main
from ecgdl.query import EXAMPLES, query
from ecgdl.store import RECORD_COLUMNS, records_table
from infer_fixtures import write_excerpt

pytest.importorskip("duckdb", reason="duckdb not installed (pip install 'ecgdl[cluster]')")

# (record, start_s, seconds): VT runs of 10+ beats in 207 and 223, atrial fibrillation in 201, neither in 100/119
EXCERPTS = (("100", 0.0, 120.0), ("207", 1600.0, 180.0), ("223", 560.0, 120.0), ("119", 60.0, 120.0),
            ("201", 0.0, 240.0))


@pytest.fixture(scope="module")
def scored(tmp_path_factory, mitdb_dir):
    folder = tmp_path_factory.mktemp("records")
    for r, a, n in EXCERPTS:
        write_excerpt(mitdb_dir / r, folder, r, start_s=a, seconds=n)
    out = tmp_path_factory.mktemp("out")
    assert main(["score", str(folder), "--out", str(out), "--device", "cpu", "--quiet", "--reference"]) == 0
    return out


def _summaries(out) -> dict[str, dict]:
    return {p.name.removesuffix(".summary.json"): json.loads(p.read_text()) for p in out.glob("*.summary.json")}


def _expected(summaries: dict[str, dict]) -> list[str]:
    """The question answered straight from the JSON: a V run of 10+ beats, or AF burden over 10 %."""
    out = []
    for name, s in summaries.items():
        longest_vt = max((run["beats"] for run in s["events"]["V"]["runs"]), default=0)
        if longest_vt >= 10 or (s["episodes"]["af_burden_pct"] or 0) > 10:
            out.append(name)
    return sorted(out)


def test_vt_or_af_question_matches_the_json(scored):
    cols, rows = query(scored, EXAMPLES["vt_or_af"])
    assert cols[0] == "record"
    answer = [r[0] for r in rows]
    assert answer == _expected(_summaries(scored))
    assert {"207", "201"} <= set(answer) and "100" not in answer  # not vacuous: VT and AF in, a normal one out


def test_vt_runs_events_match_the_json(scored):
    _, rows = query(scored, EXAMPLES["vt_runs"])
    expected = sorted((name, run["start_s"], run["beats"]) for name, s in _summaries(scored).items()
                      for run in s["events"]["V"]["runs"] if run["beats"] >= 10)
    assert sorted((r[0], r[1], r[3]) for r in rows) == expected and expected


def test_records_and_beats_tables_agree_with_the_files(scored):
    summaries = _summaries(scored)
    _, rows = query(scored, "SELECT record, beats, n_V, model_sha256, status FROM records ORDER BY record")
    assert rows == [(n, s["beats"], s["counts"]["V"], s["model"]["sha256"], "ok") for n, s in sorted(summaries.items())]
    _, rows = query(scored, "SELECT record, count(*), sum(CASE WHEN label = 'V' THEN 1 ELSE 0 END) FROM beats "
                            "GROUP BY record ORDER BY record")
    assert rows == [(n, s["beats"], s["counts"]["V"]) for n, s in sorted(summaries.items())]
    _, rows = query(scored, "SELECT ref_label, count(*) FROM beats WHERE record = '100' GROUP BY 1 ORDER BY 2 DESC")
    assert rows[0][0] == "N" and rows[0][1] > 100  # the reference labels travel with the beats


def test_af_episodes_match_the_episode_files(scored):
    _, rows = query(scored, EXAMPLES["af_episodes"])
    expected = {}
    for f in scored.glob("*.episodes.csv"):
        af = [ln.split(",") for ln in f.read_text().splitlines()[1:] if ln.startswith("AFIB,")]
        if af:
            expected[f.name.removesuffix(".episodes.csv")] = (len(af), round(sum(float(b) - float(a) for _, a, b, *_ in af)))
    assert {r[0]: (r[1], r[2]) for r in rows} == expected and "201" in expected


def test_records_table_has_every_documented_column():
    base = {"record": "x", "status": "ok", "duration_s": 600.0, "beats": 700, "counts": {"N": 700},
            "events": {"V": {"runs": []}}, "pauses": [],
            "episodes": {"af_burden_pct": 12.5, "af_seconds": 75.0, "counts": {"AFIB": 1, "VT": 2},
                         "longest": {"VT": {"beats": 14}}}}
    table = records_table([base, {**base, "record": "y", "episodes": None}, {"record": "z", "status": "error",
                                                                              "error": "bad header"}], ("N",))
    assert table.column("AF_burden_pct").to_pylist() == [12.5, None, None]
    assert table.column("VT_episodes").to_pylist() == [2, None, None]
    assert table.column("VT_longest_beats").to_pylist() == [14, None, None]
    assert table.column("error").to_pylist() == [None, None, "bad header"]
    assert set(RECORD_COLUMNS) - {"n_N", "AFIB_episodes"} <= set(table.column_names)


def test_query_command_prints_and_fails_clearly(scored, tmp_path, capsys):
    assert main(["query", str(scored), "SELECT record, beats FROM records ORDER BY record", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "record,beats" and [ln.split(",")[0] for ln in lines[1:]] == ["100", "119", "201", "207", "223"]
    assert main(["query", str(tmp_path), "SELECT 1"]) == 2
    assert "no results dataset" in capsys.readouterr().err
    assert main(["query", str(scored), "SELECT nope FROM records"]) == 2
    assert "nope" in capsys.readouterr().err


def test_query_over_a_pyarrow_filesystem_uri(scored):
    """The same dataset read through ``pyarrow.fs`` (as from object storage), here a ``file://`` URI."""
    _, rows = query(f"file://{scored}", "SELECT count(*) FROM beats WHERE record = '207'")
    _, direct = query(scored, "SELECT count(*) FROM beats WHERE record = '207'")
    assert rows == direct and rows[0][0] > 100


def test_a_resumed_run_keeps_one_row_per_record(scored, tmp_path):
    import shutil
    from pathlib import Path

    out = tmp_path / "out"
    shutil.copytree(scored, out)
    folder = Path(next(iter(_summaries(out).values()))["source_path"]).parent
    before = {p: p.read_bytes() for p in (out / "dataset" / "beats").rglob("*.parquet")}
    assert main(["score", str(folder), "--out", str(out), "--device", "cpu", "--quiet", "--reference"]) == 0
    # the dataset, like summary.csv, does not depend on resuming (byte-identical after kill -9); run.json says what was reused
    assert query(out, "SELECT status, count(*) FROM records GROUP BY status")[1] == [("ok", len(EXCERPTS))]
    assert {r["status"] for r in json.loads((out / "run.json").read_text())["records"]} == {"skipped"}
    assert {p: p.read_bytes() for p in (out / "dataset" / "beats").rglob("*.parquet")} == before
    assert query(out, EXAMPLES["vt_or_af"])[1] == query(scored, EXAMPLES["vt_or_af"])[1]


def test_arrow_table_equals_pyarrows_own_and_scoring_leaves_pandas_out(tmp_path, mitdb_dir):
    """The dataset's tables are built from buffers (pyarrow's ``pa.table`` imports pandas, ~0.5 s at
    start-up): the same table as pyarrow's own, nulls included, and a scored record imports no pandas."""
    import subprocess
    import sys

    import numpy as np
    import pyarrow as pa

    from ecgdl.store import arrow_table

    cols = {"i": [1, None, 3], "f": [0.5, None, 2.0], "s": ["a", None, "été"], "n": np.arange(3),
            "u": np.array(["N", "V", "S"])}
    kinds = {"i": "int64", "f": "float64", "s": "string"}
    expected = pa.table({"i": pa.array(cols["i"], pa.int64()), "f": pa.array(cols["f"], pa.float64()),
                         "s": pa.array(cols["s"], pa.string()), "n": pa.array(cols["n"]),
                         "u": pa.array(cols["u"].tolist(), pa.string())})
    assert arrow_table(cols, kinds).equals(expected)
    folder = tmp_path / "rec"
    write_excerpt(mitdb_dir / "100", folder, "100", seconds=30.0)
    code = ("import sys; from ecgdl.cli import main; "
            f"rc = main(['score', {str(folder)!r}, '--out', {str(tmp_path / 'out')!r}, '--device', 'cpu', '-q']); "
            "print(rc, 'pandas' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.stdout.split()[-2:] == ["0", "False"], run.stderr
    assert (tmp_path / "out" / "dataset" / "records.parquet").is_file()
