"""ecgdl.artifacts: one file hash, one atomic writer, one verified ONNX sidecar loader (real onnxruntime)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ecgdl.artifacts import (atomic_write, atomic_write_npz, atomic_write_with, load_onnx, read_sidecar, sha256_file,
                             stale_tmp_files)
from ecgdl.paths import MODELS_DIR


def test_sha256_of_a_file_is_hashlib_sha256(tmp_path):
    data = os.urandom(3 << 20)
    (tmp_path / "f.bin").write_bytes(data)
    assert sha256_file(tmp_path / "f.bin") == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("data", ["text ✓\n", b"\x00\x01bytes"])
def test_atomic_write_replaces_the_whole_file_and_leaves_no_temp(tmp_path, data):
    target = tmp_path / "out.txt"
    target.write_text("old content that is longer than the new one")
    atomic_write(target, data)
    assert target.read_bytes() == (data.encode() if isinstance(data, str) else data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()        # like open(): shippable files stay readable


def test_atomic_npz_round_trips_and_keeps_the_name(tmp_path):
    atomic_write_npz(tmp_path / "beats.npz", x=np.arange(5.0), y=np.array([1, 2], np.int8))
    with np.load(tmp_path / "beats.npz") as z:
        assert z["x"].tolist() == [0, 1, 2, 3, 4] and z["y"].dtype == np.int8
    assert [p.name for p in tmp_path.iterdir()] == ["beats.npz"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "manifest.json"
    target.write_text('{"old": 1}')

    def half_then_fail(fh):
        fh.write(b'{"new": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write_with(target, half_then_fail)
    assert target.read_text() == '{"old": 1}' and [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_stale_temp_files_are_those_of_dead_processes(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / f"a.json.0123abcd.{gone.pid}.tmp").write_text("half")
    (tmp_path / f"b.json.4567cdef.{os.getpid()}.tmp").write_text("being written")
    assert [p.name for p in stale_tmp_files(tmp_path)] == [f"a.json.0123abcd.{gone.pid}.tmp"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("name", ["ecgdl_cnn", "dae"])
def test_both_onnx_wrappers_refuse_a_replaced_model(tmp_path, name):
    """The classifier's and the denoiser's sidecar hash is checked by the same loader."""
    from ecgdl.denoise import Denoiser
    from ecgdl.infer import BeatClassifier

    src = MODELS_DIR / f"{name}.onnx"
    if not src.is_file():
        pytest.skip(f"{src} not shipped")
    shutil.copy(src, tmp_path / src.name)
    shutil.copy(src.with_suffix(".json"), tmp_path / f"{name}.json")
    wrapper = BeatClassifier if name == "ecgdl_cnn" else Denoiser
    loaded = wrapper(tmp_path / src.name, device="cpu")
    assert loaded.session.get_providers()[0] == "CPUExecutionProvider"
    with open(tmp_path / src.name, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ValueError, match="sha256 differs"):
        wrapper(tmp_path / src.name, device="cpu")


def test_missing_sidecar_is_named(tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="m.json"):
        read_sidecar(tmp_path / "m.onnx")


def test_unknown_device_is_refused():
    with pytest.raises(ValueError, match="device must be one of"):
        load_onnx(MODELS_DIR / "dae.onnx", "tpu")


def test_scoring_imports_neither_torch_nor_the_training_cache(mitdb_dir, tmp_path):
    """A batch scores a record without importing torch, ecgdl.dataset (the training cache) or ecgdl.train."""
    code = ("import sys, pathlib; from ecgdl.batch import BatchConfig, score_batch; "
            f"r = score_batch([{str(mitdb_dir / '100')!r}], BatchConfig(out=pathlib.Path({str(tmp_path)!r}), "
            "device='cpu', progress=False, reference=True)); assert r.ok; "
            "print(sorted(m for m in ('torch', 'ecgdl.dataset', 'ecgdl.train') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert json.loads((tmp_path / "100.summary.json").read_text())["beats"] > 2000


#: What the scoring path must not import (start-up: scipy.signal alone costs about 1 s, wfdb + pandas 0.4 s).
HEAVY = ("scipy.signal", "scipy.stats", "scipy.interpolate", "scipy.ndimage", "pandas", "wfdb", "torch")


def test_scoring_path_imports_no_scipy_signal_pandas_wfdb_or_torch(mitdb_dir, tmp_path):
    """Importing ecgdl.infer / ecgdl.batch / ecgdl.cli, then ``ecgdl score`` of a 360-Hz record, leaves
    none of HEAVY in sys.modules (filters: ecgdl.iir; WFDB: ecgdl.wfdb_reader)."""
    code = ("import sys; import ecgdl.infer, ecgdl.batch, ecgdl.cli; "
            f"heavy = {HEAVY!r}; print(sorted(m for m in heavy if m in sys.modules)); "
            f"rc = ecgdl.cli.main(['score', {str(mitdb_dir / '100')!r}, '--out', {str(tmp_path)!r}, '-q']); "
            "print(rc, sorted(m for m in heavy if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert (lines[0], lines[-1]) == ("[]", "0 []")
    assert json.loads((tmp_path / "100.summary.json").read_text())["beats"] > 2000
