"""`ecgdl score` reading and writing ``pyarrow.fs`` URIs: ``file://`` and ``s3://`` on a real S3-compatible
HTTP server (``moto_server``) on 127.0.0.1, with the local engine (Ray: tests/test_ray_engine.py).

Each URI run is checked against a run on plain local paths of the same records: the same files, byte for
byte, the record's own source path aside; resume, one bad record, a kill mid-run and the lock hold.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from ecgdl.cli import main
from ecgdl.query import EXAMPLES, query
from infer_fixtures import write_excerpt

pytest.importorskip("duckdb", reason="duckdb not installed (pip install 'ecgdl[cluster]')")
s3_server = pytest.importorskip("s3_server")
if s3_server.MOTO is None:
    pytest.skip("moto_server not installed (pip install 'moto[server]', in the dev extra)", allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
NAMES = ("100", "119", "207", "223")
#: Fields that name where the record was read from (a path or a URI), not what it holds.
WHERE = ("source_path", "path", "seconds", "processing_s")


@pytest.fixture(scope="module")
def s3():
    server = s3_server.S3Server().start()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in s3_server.ENV.items():
            mp.setenv(k, v)
        yield server
    server.stop()


@pytest.fixture(scope="module")
def records(tmp_path_factory, mitdb_dir) -> Path:
    """Four 60-s excerpts (with annotations) and one record whose signal file is cut short."""
    folder = tmp_path_factory.mktemp("records")
    starts = {"100": 0.0, "119": 60.0, "207": 1600.0, "223": 560.0}
    for r in NAMES:
        write_excerpt(mitdb_dir / r, folder, r, start_s=starts[r], seconds=60.0)
    (folder / "bad.hea").write_text((folder / "100.hea").read_text().replace("100", "bad"))
    (folder / "bad.dat").write_bytes((folder / "100.dat").read_bytes()[:999])
    return folder


@pytest.fixture(scope="module")
def local_run(records, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local")
    assert main(["score", str(records), "--out", str(out), "--device", "cpu", "--quiet", "--reference"]) == 1
    return out


def _normalised(files: dict[str, bytes], where: tuple[str, ...] = ()) -> dict[str, object]:
    """Output files with the fields that say where the record was read from dropped (the lock is no output),
    and the input folder (``where``: as the run named it) written ``<in>`` in the failed record's message."""
    out = {}
    for name, data in files.items():
        if name.endswith(".lock"):
            continue
        if name == "dataset/records.parquet":
            import io

            import pyarrow.parquet as pq

            data = json.dumps(pq.read_table(io.BytesIO(data)).drop_columns(["source_path"]).to_pylist()).encode()
        if not name.endswith(".parquet") or name == "dataset/records.parquet":
            for w in where:
                data = data.replace(w.encode(), b"<in>")
        out[name] = _drop(json.loads(data)) if name.endswith(".json") else data
    return out


def _drop(v):
    if isinstance(v, dict):
        return {k: _drop(x) for k, x in v.items() if k not in WHERE}
    return [_drop(x) for x in v] if isinstance(v, list) else v


def _local_files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_file_uris_give_the_local_paths_outputs(records, local_run, tmp_path):
    out = tmp_path / "uri"
    rc = main(["score", f"file://{records}", "--out", f"file://{out}", "--device", "cpu", "--quiet", "--reference"])
    assert rc == 1  # the bad record failed; the others are scored
    a = _normalised(_local_files(local_run), (str(records),))
    b = _normalised(_local_files(out), (f"file://{records}",))
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
    summary = json.loads((out / "100.summary.json").read_text())
    assert summary["source_path"] == f"file://{records}/100"
    assert query(f"file://{out}", EXAMPLES["vt_or_af"]) == query(local_run, EXAMPLES["vt_or_af"])


@pytest.mark.parametrize("arg", ["", "/1*.hea", "/100", "/100.hea", "/2*3.*", "/[12]0*.hea"])
def test_uri_record_search_is_the_local_one(records, arg):
    """Folder, pattern, record name and header file: the same records, and the same output names."""
    from ecgdl.batch import find_records, output_names

    local, uri = find_records([f"{records}{arg}"]), find_records([f"file://{records}{arg}"])
    assert [str(r) for r in uri] == [f"file://{p}" for p in local] and local
    assert list(output_names(uri).values()) == list(output_names(local).values())


def test_s3_run_is_the_local_run_and_resumes(s3, records, local_run):
    s3.upload(records, "archive/in")
    src, out = s3.uri("archive/in"), s3.uri("archive/out")
    assert main(["score", src, "--out", out, "--device", "cpu", "--quiet", "--reference"]) == 1
    got = s3.files("archive/out")
    a, b = _normalised(_local_files(local_run), (str(records),)), _normalised(got, ("s3://archive/in",))
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
    assert ".ecgdl-score.lock" not in got and not [k for k in got if k.endswith(".tmp")]
    status = dict(query(out, "SELECT record, status FROM records")[1])
    assert status == {"bad": "error", **{n: "ok" for n in NAMES}}
    assert json.loads(got["100.summary.json"])["source_path"] == "s3://archive/in/100" + out[out.index("?"):]
    # the same command again: every finished record is reused (its input content and options unchanged)
    run = _cli(["score", src, "--out", out, "--device", "cpu", "--reference"])
    assert f"0 scored, {len(NAMES)} already done, 1 failed" in run.stdout
    again = _normalised(s3.files("archive/out"), ("s3://archive/in",))
    assert json.loads(s3.files("archive/out")["run.json"])["records"][0]["status"] == "skipped"
    assert {k: v for k, v in again.items() if k != "run.json"} == {k: v for k, v in b.items() if k != "run.json"}


@pytest.mark.slow
def test_s3_run_killed_mid_run_keeps_what_it_wrote_and_resumes(s3, tmp_path, mitdb_dir):
    """(slow: 8 records; the default run's resume case is the second run of the test above)"""
    folder = tmp_path / "many"
    for i in range(8):
        write_excerpt(mitdb_dir / "100", folder, f"r{i}", start_s=60.0 * i, seconds=120.0)
    s3.upload(folder, "killed/in")
    src, out = s3.uri("killed/in"), s3.uri("killed/out")
    driver = subprocess.Popen([sys.executable, "-m", "ecgdl.cli", "score", src, "--out", out, "--device", "cpu",
                               "--quiet"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while driver.poll() is None and time.monotonic() < deadline:
        if sum(k.endswith(".summary.json") for k in s3.files("killed/out")) >= 2:
            break
        time.sleep(0.2)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    before = {k: v for k, v in s3.files("killed/out").items() if k.endswith(".summary.json")}
    assert 2 <= len(before) < 8  # killed mid-run
    run = _cli(["score", src, "--out", out, "--device", "cpu"])  # the lock object names a dead pid here: taken over
    assert run.returncode == 0, run.stderr
    assert f"{8 - len(before)} scored, {len(before)} already done, 0 failed" in run.stdout
    after = s3.files("killed/out")
    assert all(after[k] == v for k, v in before.items())  # nothing already written is lost or rewritten
    assert sorted(k for k in after if k.endswith(".summary.json")) == [f"r{i}.summary.json" for i in range(8)]
    assert not list(Path(tempfile.gettempdir()).glob(f"ecgdl-stage-{driver.pid}-*"))  # its staging folder: removed


def test_s3_out_held_by_a_run_elsewhere_is_refused(s3, records, tmp_path):
    fs = s3.filesystem()
    fs.create_dir("held")
    with fs.open_output_stream("held/out/.ecgdl-score.lock") as f:
        f.write(json.dumps({"host": "ward-7-node", "pid": 4242, "started": "2026-12-01T00:00:00Z"}).encode())
    run = _cli(["score", str(records / "100"), "--out", s3.uri("held/out"), "--device", "cpu"])
    assert run.returncode == 2 and "ward-7-node" in run.stderr and "holds it" in run.stderr
    assert sorted(s3.files("held/out")) == [".ecgdl-score.lock"]  # nothing scored, the owner's lock kept


def test_uri_that_matches_nothing_is_a_clear_error(s3, tmp_path):
    run = _cli(["score", s3.uri("archive/nowhere"), "--out", str(tmp_path / "o"), "--device", "cpu"])
    assert run.returncode == 2 and "s3://archive/nowhere" in run.stderr and "no such record" in run.stderr


def _env() -> dict:
    return {**os.environ, **s3_server.ENV, "PYTHONPATH": str(REPO)}


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecgdl.cli", *args], env=_env(), capture_output=True, text=True,
                          timeout=600)
