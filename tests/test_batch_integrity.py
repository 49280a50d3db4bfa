"""Issue 11, batch side: outputs never lost, never stale, never shared between two inputs.

Items 3-8, 11, 16, 17 of the issue, each by its scenario, through ``main([...])`` or the ``ecgdl``
command in a subprocess, on excerpts of real MIT-BIH records; and the kill -9 integrity test (2 kills
in the default run, 20 marked slow): outputs byte-identical to a clean run.
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecgdl.cli import main
from ecgdl.run_folder import LOCK_NAME, locked
from infer_fixtures import model_for_tests, write_excerpt

pytest.importorskip("onnxruntime")

RECORDS = ("100", "119", "208", "233", "105", "201")
REPO = Path(__file__).resolve().parent.parent
#: Files that describe one run, not its results (excluded from the byte-for-byte comparison).
RUN_ONLY = {"run.json", LOCK_NAME}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, mitdb_dir):
    return model_for_tests(tmp_path_factory, mitdb_dir)


@pytest.fixture(scope="module")
def excerpts(tmp_path_factory, mitdb_dir) -> Path:
    folder = tmp_path_factory.mktemp("records")
    for r in RECORDS:
        write_excerpt(mitdb_dir / r, folder, r, start_s=30.0, seconds=60.0)
    return folder


def _score(args, model_path) -> int:
    return main(["score", *map(str, args), "--model", str(model_path), "--device", "cpu", "--quiet"])


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _copy_record(src_dir: Path, src: str, dst_dir: Path, name: str) -> Path:
    """Record ``src`` of ``src_dir`` as ``dst_dir/name`` (the header keeps naming ``<src>.dat``)."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(src_dir / f"{src}.dat", dst_dir / f"{src}.dat")
    shutil.copy(src_dir / f"{src}.atr", dst_dir / f"{name}.atr")
    (dst_dir / f"{name}.hea").write_bytes((src_dir / f"{src}.hea").read_bytes())
    return dst_dir / name


def _outputs(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (the run's dataset folder included) but the per-run ones, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.name not in RUN_ONLY}


# ----------------------------------------------------------------------------- 3. names never shared


def test_item3_two_records_named_alike_in_different_folders_are_both_kept(excerpts, model_path, tmp_path):
    a = _copy_record(excerpts, "100", tmp_path / "a" / "p", "100")
    b = _copy_record(excerpts, "119", tmp_path / "b" / "p", "100")
    out = tmp_path / "out"
    assert _score([a.with_suffix(".hea"), b.with_suffix(".hea"), "--out", out], model_path) == 0
    rows = _rows(out / "summary.csv")
    assert [r["record"] for r in rows] == ["a_p_100", "b_p_100"]
    assert rows[0]["beats"] != rows[1]["beats"] or rows[0]["V"] != rows[1]["V"]
    assert (out / "a_p_100.beats.csv").read_bytes() != (out / "b_p_100.beats.csv").read_bytes()


def test_item3_wfdb_and_edf_of_one_name_in_one_folder_are_both_kept(excerpts, model_path, tmp_path):
    from wfdb.io.convert.edf import wfdb_to_edf

    folder = tmp_path / "rec"
    _copy_record(excerpts, "100", folder, "100")
    wfdb_to_edf(str(excerpts / "119"), output_filename=str(folder / "100.edf"))
    out = tmp_path / "out"
    assert _score([folder, "--out", out], model_path) == 0
    assert sorted(r["record"] for r in _rows(out / "summary.csv")) == ["100", "100_edf"]
    assert (out / "100.beats.csv").is_file() and (out / "100_edf.beats.csv").is_file()


# ----------------------------------------------------------------------------- 4. resume on content, not name


def test_item4_changed_input_with_the_same_name_is_rescored(excerpts, model_path, tmp_path, capsys):
    rec = _copy_record(excerpts, "100", tmp_path / "in", "x")
    out = tmp_path / "out"
    assert _score([rec, "--out", out], model_path) == 0
    first = (out / "x.beats.csv").read_bytes()
    _copy_record(excerpts, "119", tmp_path / "in", "x")  # a different record, the same name
    capsys.readouterr()
    assert _score([rec, "--out", out], model_path) == 0
    assert "1 scored, 0 already done" in capsys.readouterr().out
    assert (out / "x.beats.csv").read_bytes() != first
    assert _score([rec, "--out", out], model_path) == 0  # unchanged now: reused
    assert "0 scored, 1 already done" in capsys.readouterr().out


# ----------------------------------------------------------------------------- 5. non-UTF-8 names


def test_item5_non_utf8_file_names_keep_the_run_table(excerpts, model_path, tmp_path, capsys):
    folder = tmp_path / "in"
    good = _copy_record(excerpts, "100", folder, os.fsdecode(b"r\xe9c"))
    bad = folder / os.fsdecode(b"b\xe9d")
    bad.with_name(bad.name + ".hea").write_text("garbage\n")
    out = tmp_path / "out"
    assert _score([good, bad, "--out", out], model_path) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "number of signals" in err
    rows = _rows(out / "summary.csv")
    assert [r["record"] for r in rows] == ["r%E9c", "b%E9d"] and [r["status"] for r in rows] == ["ok", "error"]
    assert (out / "r%E9c.beats.csv").is_file()
    assert not list(out.glob("*.tmp"))


# ----------------------------------------------------------------------------- 6. only our own temp files removed


def test_item6_user_tmp_files_and_folders_in_out_are_left_alone(excerpts, model_path, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.tmp").write_text("mine")
    (out / "report.123.tmp").write_text("mine too")
    (out / "cache.tmp").mkdir()
    assert _score([excerpts / "100", "--out", out], model_path) == 0
    assert (out / "notes.tmp").read_text() == "mine" and (out / "report.123.tmp").is_file()
    assert (out / "cache.tmp").is_dir()


# ----------------------------------------------------------------------------- 7. explicit paths are not globs


def test_item7_an_existing_path_with_brackets_is_not_a_pattern(excerpts, model_path, tmp_path):
    folder = tmp_path / "in"
    _copy_record(excerpts, "100", folder, "a[1]")
    _copy_record(excerpts, "119", folder, "a1")
    out = tmp_path / "out"
    assert _score([folder / "a[1].hea", "--out", out], model_path) == 0
    rows = _rows(out / "summary.csv")
    assert [r["record"] for r in rows] == ["a%5B1%5D"]
    assert json.loads((out / "a%5B1%5D.summary.json").read_text())["source_path"].endswith("a[1]")


# ----------------------------------------------------------------------------- 8. a bad --out, before scoring


def _bad_out(kind: str, tmp_path: Path) -> Path:
    if kind == "a file":
        (tmp_path / "f").write_text("x")
        return tmp_path / "f"
    if kind == "under a file":
        (tmp_path / "f").write_text("x")
        return tmp_path / "f" / "out"
    if kind == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        (tmp_path / "ro").mkdir(mode=0o555)
        return tmp_path / "ro"
    return Path("/proc/ecgdl-no-such-place/out")  # an unwritable parent, for root too


@pytest.mark.parametrize("kind", ["a file", "under a file", "read-only", "unwritable parent"])
def test_item8_bad_out_is_one_line_before_any_scoring(excerpts, model_path, tmp_path, capsys, kind):
    out = _bad_out(kind, tmp_path)
    t0 = time.perf_counter()
    assert _score([excerpts, "--out", out], model_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ERROR: --out {out}") and "\n" not in err and "Traceback" not in err
    assert time.perf_counter() - t0 < 5.0  # nothing was scored (six records take longer)


# ----------------------------------------------------------------------------- 16. formula injection


def test_item16_a_record_named_like_a_formula_is_escaped_in_the_table(excerpts, model_path, tmp_path):
    rec = _copy_record(excerpts, "100", tmp_path / "in", "=HYPERLINK(1)")
    out = tmp_path / "out"
    assert _score([rec, "--out", out], model_path) == 0
    cell = (out / "summary.csv").read_text().splitlines()[1].split(",")[0]
    assert cell[:1] not in ("=", "+", "-", "@") and "HYPERLINK" in cell


# ----------------------------------------------------------------------------- 17. lock, fsync


def test_item17_a_second_run_into_a_busy_out_is_refused(excerpts, model_path, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with locked(out):  # another batch holds the folder (a real flock on its own open file)
        assert _score([excerpts / "100", "--out", out], model_path) == 2
    assert "another ecgdl score run is writing into this folder" in capsys.readouterr().err
    assert not list(out.glob("*.beats.csv"))
    assert _score([excerpts / "100", "--out", out], model_path) == 0  # free again


def test_item17_every_output_is_fsynced_before_rename(excerpts, model_path, tmp_path, monkeypatch):
    import ecgdl.artifacts

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(ecgdl.artifacts.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    out = tmp_path / "out"
    assert _score([excerpts / "100", excerpts / "119", "--out", out], model_path) == 0
    files = [p for p in out.iterdir() if p.is_file() and p.name != LOCK_NAME]
    assert len(synced) >= 2 * len(files)  # each file, then its folder


# ----------------------------------------------------------------------------- 11. workers die with the parent


def _cli(args: list, model_path: Path) -> list[str]:
    return [sys.executable, "-m", "ecgdl.cli", "score", *map(str, args), "--model", str(model_path),
            "--device", "cpu", "--quiet"]


def _children(pid: int) -> list[int]:
    """Child processes of ``pid`` (Linux /proc; no procps needed)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def test_item11_killing_a_two_worker_run_kills_its_workers(excerpts, model_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(_cli([excerpts, "--out", tmp_path / "out", "--workers", "2", "--force"], model_path),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.2)
        workers = _children(proc.pid)
    if len(workers) < 2:
        proc.kill()
        pytest.skip("the run ended before both workers were seen")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ----------------------------------------------------------------------------- kill -9 at random points


def _kill_then_finish(excerpts: Path, model_path: Path, out: Path, kills: int, seed: int) -> int:
    """``kills`` runs killed at random points (one or two workers), then one run to the end; returns
    how many kills left something in ``out``."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    rng = random.Random(seed)
    t0 = time.monotonic()
    subprocess.run(_cli([excerpts, "--out", out.with_name("timing")], model_path), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    clean_s = time.monotonic() - t0
    touched = 0
    for i in range(kills):
        workers = "2" if i % 3 == 2 else "1"
        proc = subprocess.Popen(_cli([excerpts, "--out", out, "--workers", workers], model_path), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, clean_s))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        touched += out.is_dir() and any(p.suffix != ".lock" for p in out.iterdir())
    done = subprocess.run(_cli([excerpts, "--out", out], model_path), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return touched


def _assert_like_a_clean_run(excerpts: Path, model_path: Path, tmp_path: Path, kills: int, seed: int) -> None:
    clean = tmp_path / "clean"
    assert _score([excerpts, "--out", clean], model_path) == 0
    out = tmp_path / "killed"
    _kill_then_finish(excerpts, model_path, out, kills, seed)
    assert _outputs(out) == _outputs(clean)
    assert not list(out.glob("*.tmp"))


def test_kill_9_twice_then_resume_is_byte_identical_to_a_clean_run(excerpts, model_path, tmp_path):
    _assert_like_a_clean_run(excerpts, model_path, tmp_path, kills=2, seed=1)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 21 process starts: ~160 s alone, several minutes on a busy machine
def test_kill_9_twenty_times_then_resume_is_byte_identical_to_a_clean_run(excerpts, model_path, tmp_path):
    _assert_like_a_clean_run(excerpts, model_path, tmp_path, kills=20, seed=20)


# ----------------------------------------------------------------------------- warnings reach every report


def test_warnings_reach_the_summary_json_the_run_table_and_the_exit_status(excerpts, model_path, tmp_path, capsys):
    rec = _copy_record(excerpts, "100", tmp_path / "in", "lowlead")
    hea = rec.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    lines[2] = lines[2].replace(" 200.0(", " 4000.0(", 1)  # the second lead's gain 20x: 20x too small
    hea.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    assert main(["score", str(rec), "--out", str(out), "--model", str(model_path), "--device", "cpu"]) == 3
    assert "QRS amplitude" in capsys.readouterr().err
    summary = json.loads((out / "lowlead.summary.json").read_text())
    assert any("QRS amplitude" in w for w in summary["warnings"])
    assert "QRS amplitude" in _rows(out / "summary.csv")[0]["warnings"]


def test_a_scoring_worker_keeps_its_arrays_on_small_pages(model_path):
    """A scoring process turns numpy's huge-page advice off (3-4 s of system time on a 24-h Holter)."""
    code = ("import sys; from ecgdl.batch import _init_worker; _init_worker(sys.argv[1], 'cpu'); "
            "from numpy._core.multiarray import _set_madvise_hugepage as advise; print(advise(True))")
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(model_path)], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"      # the advice was off when the worker had loaded its model
