"""GPU checks (marked ``gpu``; skipped where no CUDA device is usable, as on CI).

They need no data folder: beats come from a seeded synthetic two-lead signal.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgdl.beats import make_beats
from ecgdl.infer import BeatClassifier, score_record
from ecgdl.io import Record

pytestmark = pytest.mark.gpu
FS = 360.0


def _synthetic(seconds: float = 300.0) -> tuple[np.ndarray, np.ndarray]:
    """Two-lead ECG-like signal (Gaussian QRS spikes at 75 bpm, every 7th beat early) and its beat samples."""
    rng = np.random.default_rng(0)
    n = int(seconds * FS)
    rr = np.full(int(seconds / 0.8), 0.8)
    rr[::7] = 0.5
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    peaks = peaks[peaks < n - FS]
    t = np.arange(n)
    sig = 0.02 * rng.standard_normal((n, 2))
    for p in peaks:
        sl = slice(max(p - 30, 0), p + 30)
        bump = np.exp(-((t[sl] - p) ** 2) / (2 * 4.0**2))
        sig[sl, 0] += 1.2 * bump
        sig[sl, 1] += 0.6 * bump
    return sig.astype(np.float32), peaks


def test_cuda_provider_is_active_and_agrees_with_cpu():
    gpu = BeatClassifier(device="cuda")
    assert gpu.provider == "CUDAExecutionProvider"
    cpu = BeatClassifier(device="cpu")
    sig, peaks = _synthetic()
    beats = make_beats(sig, peaks, FS, record="synthetic")
    p_gpu, p_cpu = gpu.predict_proba(beats), cpu.predict_proba(beats)
    assert p_gpu.shape == (len(peaks), len(gpu.classes))
    assert np.abs(p_gpu - p_cpu).max() < 1e-4
    assert np.array_equal(p_gpu.argmax(1), p_cpu.argmax(1))


def test_score_record_on_the_gpu():
    sig, peaks = _synthetic()
    rec = Record(name="synthetic", signal=sig, fs=FS, leads=("MLII", "V1"), source_fs=FS)
    result = score_record(rec, BeatClassifier(device="cuda"))
    assert result.summary["model"]["provider"] == "CUDAExecutionProvider"
    found = np.abs(result.sample[:, None] - peaks[None, :]).min(axis=1)
    assert len(result.sample) == len(peaks) and found.max() <= 0.05 * FS
