"""Where data, caches and runs live. Nothing is created at import time.

* shipped models: ``ecgdl/shipped/`` inside the installed package (:data:`MODELS_DIR`).
* data folder: ``$ECGDL_DATA`` if set, else ``../shared/data`` beside the checkout (or the current
  directory) when it exists, else ``~/.cache/ecgdl/physionet`` (records downloaded there on demand).
* cache folder (prepared beat datasets): ``$ECGDL_CACHE`` or ``<repo>/cache``.
* run folders (training runs): ``$ECGDL_RUNS`` or ``<repo>/runs``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The shipped models (``<name>.onnx`` + ``<name>.json``), package data inside ``ecgdl/shipped/``.
MODELS_DIR = Path(str(resources.files("ecgdl").joinpath("shipped")))

_DATABASES = {"mitdb": "mitdb", "nstdb": "nstdb"}


def data_dir() -> Path:
    """The folder holding ``mitdb/`` and ``nstdb/`` (it may not exist yet)."""
    env = os.environ.get("ECGDL_DATA")
    if env:
        return Path(env).expanduser()
    for candidate in (REPO_ROOT.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if (candidate / "mitdb").is_dir():
            return candidate
    return Path.home() / ".cache" / "ecgdl" / "physionet"


def database_dir(name: str, *, download: bool = False) -> Path:
    """Folder of a PhysioNet database (``"mitdb"`` or ``"nstdb"``).

    With ``download=True`` and the folder missing, the database is fetched from PhysioNet
    through ``wfdb.dl_database`` (needs internet).
    """
    if name not in _DATABASES:
        raise ValueError(f"unknown database {name!r}; known: {sorted(_DATABASES)}")
    folder = data_dir() / name
    if download and not any(folder.glob("*.hea")):
        import wfdb

        folder.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database(_DATABASES[name], dl_dir=str(folder))
    return folder


def cache_dir() -> Path:
    """Prepared-dataset cache folder."""
    return Path(os.environ.get("ECGDL_CACHE", REPO_ROOT / "cache")).expanduser()


def runs_dir() -> Path:
    """Training run folders."""
    return Path(os.environ.get("ECGDL_RUNS", REPO_ROOT / "runs")).expanduser()
