"""The GPU scripts go through the one training loop: a CPU smoke run of gpu/dae_pretrain.py on a tiny data file."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ecgdl.paths import REPO_ROOT

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", REPO_ROOT / "gpu" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dae_pretrain_script_trains_through_fit(tmp_path, capsys):
    """Seeded synthetic ECG-like stretches and noise in the data file's layout; two epochs on the CPU."""
    mod = _script("dae_pretrain")
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 360.0
    clean = np.stack([np.sin(2 * np.pi * 1.2 * t), np.cos(2 * np.pi * 1.2 * t)], -1)
    arrays = {f"clean_{p}": np.stack([clean, clean[::-1]]).astype(np.float16) for p in ("train", "val")}
    for p in ("train", "val"):
        for k in ("bw", "em", "ma"):
            arrays[f"noise_{p}_{k}_raw"] = rng.normal(size=(3000, 2)).astype(np.float16)
            arrays[f"noise_{p}_{k}_cond"] = rng.normal(size=(3000, 2)).astype(np.float16)
    np.savez(tmp_path / "d.npz", **arrays)
    args = mod.main.__globals__["argparse"].Namespace(device="cpu", epochs=2, windows_per_epoch=32, batch_size=16,
                                                      window=1008)
    assert mod.train(tmp_path / "d.npz", args) == 0
    out = capsys.readouterr().out
    assert "through ecgdl.train.fit" in out and "2 epochs x 32 windows" in out
