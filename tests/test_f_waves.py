"""ecgdl.f_waves: QRST cancellation and the dominant atrial frequency on synthetic leads with known atria."""
import numpy as np

from ecgdl.f_waves import atrial_residual, f_wave_frequency

FS = 250.0


def _ventricles(seconds=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    r = np.cumsum(rng.uniform(0.5, 1.0, 400) * FS).astype(int)
    r = r[(r > FS) & (r < len(t) - FS)]
    spikes = np.zeros_like(t)
    spikes[r] = 1.0
    return t, r, np.convolve(spikes, np.hanning(int(0.08 * FS)), "same"), rng


def test_fibrillatory_waves_put_the_dominant_frequency_at_their_rate():
    t, r, qrs, _ = _ventricles()
    x = qrs + 0.06 * np.sin(2 * np.pi * 6.5 * t)
    df = f_wave_frequency(x[:, None], FS, r, np.full(len(r), "N"))
    assert np.all(np.isfinite(df)) and abs(float(np.median(df)) - 6.5) <= 0.25


def test_a_repeating_p_wave_cancels_and_leaves_no_atrial_rhythm():
    t, r, qrs, rng = _ventricles(seed=1)
    p = np.zeros_like(t)
    p[r - int(0.18 * FS)] = 0.15
    x = qrs + np.convolve(p, np.hanning(int(0.1 * FS)), "same") + 0.005 * rng.standard_normal(len(t))
    res = atrial_residual(x, FS, r, np.full(len(r), "N"))
    assert np.std(res) < 0.2 * np.std(x - qrs)          # the P waves went with the template
    assert float(np.median(f_wave_frequency(x, FS, r, np.full(len(r), "N")))) < 6.0


def test_the_highest_lead_is_read_and_unmeasured_beats_are_nan():
    t, r, qrs, rng = _ventricles(seed=2)
    quiet = qrs + 0.005 * rng.standard_normal(len(t))
    v1 = qrs + 0.06 * np.sin(2 * np.pi * 5.0 * t)
    only = np.zeros(len(r), bool)
    only[len(r) // 2:] = True
    df = f_wave_frequency(np.stack([quiet, v1], 1), FS, r, np.full(len(r), "N"), only=only)
    assert np.isnan(df[~only]).all()
    assert abs(float(np.median(df[only])) - 5.0) <= 0.25
    assert np.isnan(f_wave_frequency(qrs[: int(5 * FS)], FS, r[:3], np.full(3, "N"))).all()   # shorter than a window
