"""Detection recovers within 3 beats after an abrupt change (issue 15): seeded synthetic ECG and spliced
real MIT-BIH segments at 128, 250 and 360 Hz.

Changes: amplitude drop to 25 %, rise to 4x, one beat of 4x amplitude followed by a 150-bpm rhythm
of flipped polarity, a switch from 60 to 180 bpm. "Recovered within 3 beats": from the 4th beat
after the change on, every true beat is found (150 ms) and nothing else is.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from ecgdl.qrs import detect_r_peaks

RATES = [128.0, 250.0, 360.0]
WAVES = ((-0.20, 0.12, 0.025), (-0.03, -0.12, 0.010), (0.0, 1.2, 0.011),
         (0.03, -0.25, 0.010), (0.28, 0.35, 0.045))      # (offset s, amplitude mV, width s): P Q R S T


def _beat_train(fs: float, times: np.ndarray, amp: np.ndarray, width: np.ndarray, seed: int,
                duration_s: float) -> np.ndarray:
    """Gaussian-wave beats at ``times`` (s) scaled by ``amp`` (negative: flipped), QRS widened by ``width``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fs)) / fs
    x = np.zeros_like(t)
    for b, a, wd in zip(times, amp, width):
        rr_scale = 1.0
        for off, h, w in WAVES:
            w = w * (wd if abs(off) < 0.05 else 1.0)
            off = off * rr_scale
            i0, i1 = max(0, int((b + off - 5 * w) * fs)), min(t.size, int((b + off + 5 * w) * fs) + 1)
            x[i0:i1] += a * h * np.exp(-0.5 * ((t[i0:i1] - b - off) / w) ** 2)
    x += 0.2 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)) + 0.01 * rng.standard_normal(t.size)
    return x


def _scenario(name: str, fs: float, seed: int = 0):
    """(signal, true beat samples, index of the first beat after the change)."""
    rng = np.random.default_rng(seed)
    if name == "rate_60_180":
        before = 1.0 + np.cumsum(rng.uniform(0.95, 1.05, 20))
        after = before[-1] + np.cumsum(rng.uniform(0.32, 0.34, 60))
        times = np.r_[before, after]
        amp, width = np.ones(times.size), np.ones(times.size)
        # at 180 bpm the T wave comes early: keep it (the detector must not take it for a beat)
    else:
        before = 1.0 + np.cumsum(rng.uniform(0.75, 0.9, 25))
        if name == "big_beat_flipped_150":
            after = before[-1] + 0.5 + np.r_[0.0, 0.9 + np.cumsum(rng.uniform(0.39, 0.41, 60))]
        else:
            after = before[-1] + np.cumsum(rng.uniform(0.75, 0.9, 25))
        times = np.r_[before, after]
        amp, width = np.ones(times.size), np.ones(times.size)
        k = before.size
        if name == "drop_25":
            amp[k:] = 0.25
        elif name == "rise_4x":
            amp[k:] = 4.0
        elif name == "big_beat_flipped_150":
            amp[k], width[k] = 4.0, 3.0            # one large wide (ventricular) beat
            amp[k + 1:] = -1.0                    # then the polarity flips with the new rhythm
    x = _beat_train(fs, times, amp, width, seed, times[-1] + 1.5)
    return x, np.round(times * fs).astype(np.int64), before.size


def _recovered(truth: np.ndarray, peaks: np.ndarray, k: int, fs: float, beats: int = 3) -> tuple[int, int]:
    """(missed, extra) from the (k + beats)-th true beat on, 150 ms tolerance."""
    tol = int(0.15 * fs)
    t = truth[k + beats:]
    p = peaks[(peaks > t[0] - tol) & (peaks < t[-1] + tol)]     # the record's last 1.5 s: edge, not recovery
    missed = int(np.sum(np.min(np.abs(t[:, None] - p[None, :]), axis=1) > tol)) if p.size else t.size
    extra = int(np.sum(np.min(np.abs(p[:, None] - t[None, :]), axis=1) > tol)) if p.size else 0
    return missed, extra


SCENARIOS = ["drop_25", "rise_4x", "big_beat_flipped_150", "rate_60_180"]


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_synthetic_recovers_within_3_beats(name, fs):
    x, truth, k = _scenario(name, fs, seed=int(fs))
    peaks = detect_r_peaks(x, fs).peaks
    assert _recovered(truth, peaks, k, fs) == (0, 0)
    assert _recovered(truth[:k], peaks[peaks < truth[k] - 0.15 * fs], 0, fs, beats=0) == (0, 0)


# ----------------------------------------------------------------------------- spliced real segments


def _piece(mitdb_dir, name: str, t0: float, t1: float, fs: float, time_scale: float = 1.0, gain: float = 1.0):
    """MLII of a MIT-BIH stretch resampled so that it lasts time_scale x as long at fs; its reference beats."""
    import wfdb
    from fractions import Fraction

    rec = wfdb.rdrecord(str(mitdb_dir / name), sampfrom=int(t0 * 360), sampto=int(t1 * 360), channels=[0])
    ann = wfdb.rdann(str(mitdb_dir / name), "atr", sampfrom=int(t0 * 360), sampto=int(t1 * 360))
    q = Fraction(fs * time_scale / 360.0).limit_denominator(200)
    x = resample_poly(rec.p_signal[:, 0], q.numerator, q.denominator)
    x = gain * (x - np.linspace(x[0], x[-1], x.size))        # ends at 0: no step at a splice
    keep = np.isin(np.asarray(ann.symbol), list("NLRAaJjeSVFEQ/f"))
    beats = np.round((np.asarray(ann.sample)[keep] - int(t0 * 360)) * float(q)).astype(np.int64)
    edge = int(0.1 * fs)                                         # a beat cut by the splice is nobody's
    return x, beats[(beats > edge) & (beats < x.size - edge)]


def _qrs_ptp(x: np.ndarray, beats: np.ndarray, fs: float) -> float:
    """Median peak-to-peak amplitude within +-60 ms of the beats."""
    r = int(0.06 * fs)
    return float(np.median([np.ptp(x[max(0, b - r): b + r + 1]) for b in beats]))


def _splice(pieces):
    """Concatenate (signal, beats) pieces; returns signal, beats and the first beat index of each piece."""
    xs, bs, firsts, off = [], [], [], 0
    for x, b in pieces:
        firsts.append(sum(len(v) for v in bs))
        xs.append(x)
        bs.append(b + off)
        off += x.size
    return np.concatenate(xs), np.concatenate(bs), firsts


def _real_scenario(mitdb_dir, name: str, fs: float):
    base = _piece(mitdb_dir, "100", 10, 40, fs)
    if name == "drop_25":
        x, b, f = _splice([base, _piece(mitdb_dir, "100", 40, 70, fs, gain=0.25)])
    elif name == "rise_4x":
        x, b, f = _splice([base, _piece(mitdb_dir, "100", 40, 70, fs, gain=4.0)])
    elif name == "big_beat_flipped_150":
        # one ventricular beat of 119 (about 3-4x the sinus QRS of 100), then 100 compressed to 150 bpm, flipped
        vbeat = _piece(mitdb_dir, "119", 1.05, 2.25, fs)           # the V beat of 119 at 1.40 s
        assert vbeat[1].size == 1, "one ventricular beat in 119 at 1.05-2.25 s"
        vbeat = (vbeat[0] * 4.0 * _qrs_ptp(*base, fs) / _qrs_ptp(*vbeat, fs), vbeat[1])   # 4x the sinus QRS
        fast = _piece(mitdb_dir, "100", 40, 100, fs, time_scale=0.5, gain=-1.0)
        x, b, f = _splice([base, vbeat, fast])
        f = [f[0], f[1]]
    else:                                       # rate_60_180: 100 slowed to ~60 bpm, then sped up to ~180 bpm
        x, b, f = _splice([_piece(mitdb_dir, "100", 10, 30, fs, time_scale=1.25),
                           _piece(mitdb_dir, "100", 40, 100, fs, time_scale=0.42)])
    return x, b, f[1]


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("name", SCENARIOS)
def test_spliced_real_recovers_within_3_beats(mitdb_dir, name, fs):
    x, truth, k = _real_scenario(mitdb_dir, name, fs)
    peaks = detect_r_peaks(x, fs).peaks
    assert _recovered(truth, peaks, k, fs) == (0, 0)
