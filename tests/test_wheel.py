"""The package as a user gets it: ``python -m build`` (sdist, then the wheel built from the sdist),
installed into a fresh virtual environment in a temp folder, run from another directory.

The fresh environment holds only ecgdl (installed from the wheel with ``--no-deps``); its
dependencies (numpy, scipy, onnxruntime, wfdb, streamlit) are read from this test run's environment
through a ``.pth`` path line, so nothing is downloaded and the checkout is never on the path.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

import ecgdl

REPO = Path(__file__).resolve().parent.parent
pytest.importorskip("build", reason="python -m build is not installed (the dev extra has it)")


def _env() -> dict:
    """The environment of a user's shell: no PYTHONPATH pointing at a checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "ECGDL_MODEL")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, text=True, env=_env())
    return next(dist.glob("ecgdl-*.whl"))


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A new venv with ecgdl from the wheel only; the dependencies seen through a .pth path line."""
    root = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    py = root / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in {*site.getsitepackages(), sysconfig.get_paths()["purelib"]} if Path(p).is_dir()]
    (Path(purelib) / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True, capture_output=True, text=True, env=_env())
    return root


def test_wheel_holds_the_models_the_viewer_and_the_metadata(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"ecgdl/shipped/ecgdl_cnn.onnx", "ecgdl/shipped/ecgdl_cnn.json", "ecgdl/py.typed",
            "ecgdl/app/streamlit_app.py", "ecgdl/app/config.toml"} <= names
    meta = zipfile.ZipFile(wheel).read(f"ecgdl-{ecgdl.__version__}.dist-info/METADATA").decode()
    assert f"Version: {ecgdl.__version__}" in meta and "License-Expression: MIT" in meta
    assert "Requires-Dist: onnxruntime>=" in meta and "onnxruntime-gpu" in meta and 'extra == "gpu"' in meta
    assert any(n.endswith("licenses/LICENSE") for n in names)


def test_installed_command_scores_a_record_from_another_directory(venv, mitdb_dir, tmp_path):
    ecgdl_cmd = venv / "bin" / "ecgdl"
    version = subprocess.run([str(ecgdl_cmd), "--version"], cwd=tmp_path, env=_env(), check=True,
                             capture_output=True, text=True).stdout.strip()
    assert version == f"ecgdl {ecgdl.__version__}"
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import ecgdl.paths as p; print(p.MODELS_DIR)"],
                           cwd=tmp_path, env=_env(), check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(venv), f"ecgdl imported from {where}, not from the installed wheel"
    done = subprocess.run([str(ecgdl_cmd), "score", str(mitdb_dir / "100"), "--out", "out", "--reference"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "100.summary.json").read_text())
    shipped = json.loads((REPO / "ecgdl" / "shipped" / "ecgdl_cnn.json").read_text())
    assert summary["model"]["sha256"] == shipped["onnx"]["sha256"]
    assert summary["reference"]["matched"] / summary["reference"]["reference_beats"] > 0.99


def test_installed_viewer_starts(venv, tmp_path):
    """``ecgdl app`` from the installed package answers Streamlit's health check."""
    pytest.importorskip("streamlit")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(venv / "bin" / "ecgdl"), "app", "--port", str(port)], cwd=tmp_path, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, ok = time.monotonic() + 60, False
        while time.monotonic() < deadline and not ok and proc.poll() is None:
            try:
                ok = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
            except OSError:
                time.sleep(0.5)
        assert ok, f"viewer did not answer (exit {proc.poll()})"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    with pytest.raises(OSError):  # the server itself got the SIGTERM: nothing is left serving the port
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
