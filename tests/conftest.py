"""Shared fixtures: the real PhysioNet data folders (tests skip with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecgdl.paths import data_dir


def _db(name: str) -> Path:
    folder = data_dir() / name
    if not any(folder.glob("*.hea")):
        pytest.skip(f"{name} data folder not found at {folder} (set ECGDL_DATA to the folder holding {name}/)")
    return folder


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    """The MIT-BIH Arrhythmia Database folder (read-only)."""
    return _db("mitdb")


@pytest.fixture(scope="session")
def nstdb_dir() -> Path:
    """The MIT-BIH Noise Stress Test Database folder (read-only)."""
    return _db("nstdb")


@pytest.fixture(scope="session")
def prepared_cache(mitdb_dir, tmp_path_factory) -> Path:
    """A beat-dataset cache of all 48 records, built once per test session in a temp folder."""
    from ecgdl.dataset import prepare
    from ecgdl.splits import ALL_RECORDS

    cache = tmp_path_factory.mktemp("cache")
    prepare(ALL_RECORDS, mitdb_dir, cache=cache, progress=False)
    return cache


@pytest.fixture
def torch_one_thread():
    """One torch intra-op thread: on a shared 2-core machine two spinning threads are ~8x slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(config, items):
    """Skip @pytest.mark.gpu tests when no CUDA device is usable."""
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none here; CI has none)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
