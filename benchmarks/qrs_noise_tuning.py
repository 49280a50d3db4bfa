"""How the noisy-stretch stage's two weights were chosen: MIT-BIH records other than 118/119 with
NSTDB electrode-motion noise added the NSTDB way, a small grid of (beat_cost, rhythm_weight).

    python benchmarks/qrs_noise_tuning.py                       # the grid, pooled Se/+P/F1 at 0, -6, +6 dB
    python benchmarks/qrs_noise_tuning.py --grid 0.3:0.25       # one setting

The noisy records are built as NSTDB's ``nst`` builds 118e* and 119e*: the ``em`` noise record's two
channels added to the two leads in two-minute stretches alternating with two clean minutes from
5:00 on, scaled per lead so that SNR = 10 log10(S / N) with S = (mean QRS peak-to-peak amplitude,
largest and smallest 5 % left out)^2 / 8 and N the noise variance. NSTDB 118e*/119e* (whose beats are
118's and 119's) are not used here; they are scored once, by ``qrs_benchmark.py --nstdb``.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ecgdl.paths import data_dir  # noqa: E402
from ecgdl.qrs import detect_r_peaks  # noqa: E402
from ecgdl.qrs_config import DEFAULT_CONFIG, QRSConfig  # noqa: E402
from qrs_peers import BenchRecord, load, score  # noqa: E402

RECORDS = ("101", "106", "109", "112", "115", "116", "122", "201", "208", "215", "220", "223")
SNRS = (0.0, -6.0, 6.0)
GRID = ((0.2, 0.25), (0.3, 0.12), (0.3, 0.25), (0.3, 0.5), (0.3, 1.0), (0.4, 0.25))


def noise_scale(x: np.ndarray, ref: np.ndarray, noise: np.ndarray, snr_db: float, fs: float) -> float:
    """Gain on ``noise`` giving ``snr_db`` by the NSTDB rule (S from QRS peak-to-peak amplitudes)."""
    r = int(0.05 * fs)
    ref = ref[(ref > r) & (ref < x.size - r)]
    w = x[ref[:, None] + np.arange(-r, r + 1)]
    app = np.sort(w.max(axis=1) - w.min(axis=1))
    k = app.size // 20
    s = float(app[k: app.size - k].mean()) ** 2 / 8
    return float(np.sqrt(s / (np.var(noise) * 10 ** (snr_db / 10))))


def noisy(rec: BenchRecord, em: np.ndarray, snr_db: float) -> BenchRecord:
    """The record with em noise in NSTDB's pattern (two minutes on, two off, from 5:00) at snr_db."""
    x = rec.signal.astype(np.float64)
    t = np.arange(x.shape[0]) / rec.fs
    on = (t >= 300) & (((t - 300) // 120) % 2 == 0)
    for j in range(min(x.shape[1], em.shape[1])):
        x[on, j] += noise_scale(x[:, j], rec.ref, em[:, j], snr_db, rec.fs) * em[: x.shape[0], j][on]
    return dataclasses.replace(rec, signal=x.astype(np.float32))


def pooled(recs: list[BenchRecord], cfg: QRSConfig) -> tuple[float, float, float]:
    """Pooled Se, +P, F1 (%) of the detector over the records."""
    tp = fn = fp = 0
    for r in recs:
        s = score(r.ref, detect_r_peaks(r.signal, r.fs, cfg).peaks, r.fs)
        tp, fn, fp = tp + s["tp"], fn + s["fn"], fp + s["fp"]
    se, ppv = 100 * tp / (tp + fn), 100 * tp / (tp + fp)
    return se, ppv, 2 * se * ppv / (se + ppv)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None, help="folder holding mitdb/ and nstdb/")
    ap.add_argument("--grid", nargs="*", default=None, help="beat_cost:rhythm_weight pairs")
    args = ap.parse_args(argv)
    import wfdb
    data = args.data or data_dir()
    em = wfdb.rdrecord(str(data / "nstdb" / "em")).p_signal
    clean = [load(data / "mitdb" / n) for n in RECORDS]
    sets = {snr: [noisy(r, em, snr) for r in clean] for snr in SNRS}
    grid = [tuple(map(float, g.split(":"))) for g in args.grid] if args.grid else GRID
    off = dataclasses.replace(DEFAULT_CONFIG, noise=dataclasses.replace(DEFAULT_CONFIG.noise, enabled=False))
    rows = [("stage off", off)] + [(f"beat_cost {b} rhythm_weight {w}", dataclasses.replace(
        DEFAULT_CONFIG, noise=dataclasses.replace(DEFAULT_CONFIG.noise, beat_cost=b, rhythm_weight=w)))
        for b, w in grid]
    print("| setting | " + " | ".join(f"{s:+.0f} dB Se / +P / F1" for s in SNRS) + " |")
    print("|---|" + "---|" * len(SNRS))
    for name, cfg in rows:
        cells = [" / ".join(f"{v:.2f}" for v in pooled(sets[s], cfg)) for s in SNRS]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
