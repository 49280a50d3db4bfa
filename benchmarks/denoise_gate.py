"""Tune the denoiser's noise gate on the VALIDATION records (never DS2) and optionally store it in the sidecar.

    python benchmarks/denoise_gate.py [--model ecgdl/shipped/dae.onnx] [--per-kind-snr 300] [--write]

300 windows (model length) from the conditioned VAL records, NSTDB ``val``-part noise of every
kind at raw SNR -6, 0, ..., 24 dB. For each gate setting (tau, width) the mean over the (kind, SNR)
cells of the SNR improvement is printed; the best one is chosen (``--write`` stores it as
``gate`` in the model's sidecar, which :class:`ecgdl.denoise.Denoiser` then applies).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ecgdl.denoise import Denoiser, apply_gate
from ecgdl.noise import ALL_KINDS, NoiseBank
from ecgdl.paths import MODELS_DIR, database_dir
from ecgdl.pretrain import conditioned_signal, random_windows
from ecgdl.splits import VAL

SNRS = (-6.0, 0.0, 6.0, 12.0, 18.0, 24.0)
GRID = [(tau, width) for tau in (8.0, 10.0, 12.0, 14.0, 16.0, 18.0) for width in (1.0, 2.0)]


def _snr(clean: np.ndarray, out: np.ndarray) -> np.ndarray:
    return 10 * np.log10((clean.astype(np.float64) ** 2).sum((1, 2)) / ((out - clean) ** 2).sum((1, 2)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, default=MODELS_DIR / "dae.onnx")
    p.add_argument("--per-kind-snr", type=int, default=300)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    dn = Denoiser(args.model, gate=False)
    rng = np.random.default_rng(args.seed)
    clean = random_windows([conditioned_signal(database_dir("mitdb") / r) for r in VAL], args.per_kind_snr,
                           dn.window, rng)
    bank = NoiseBank("val")
    cells = []
    for kind in ALL_KINDS:
        for snr in SNRS:
            x = bank.corrupt(clean, snr, rng, kind)
            cells.append((kind, snr, x, dn.denoise_windows(x)))
    results = {}
    for tau, width in [(None, None), *GRID]:
        gains = {(k, s): float(_snr(clean, y if tau is None else apply_gate(x, y, tau, width)).mean() - s)
                 for k, s, x, y in cells}
        results[(tau, width)] = gains
        print(f"tau {tau} width {width}: mean gain {np.mean(list(gains.values())):.2f} dB; mix 0 dB "
              f"{gains[('mix', 0.0)]:.2f}; mix 12 dB {gains[('mix', 12.0)]:.2f}; bw 12 dB {gains[('bw', 12.0)]:.2f}")
    best = max(GRID, key=lambda tw: np.mean(list(results[tw].values())))
    print(f"chosen on VAL: tau {best[0]} dB, width {best[1]} dB")
    if args.write:
        meta_path = args.model.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta["gate"] = {"tau_db": best[0], "width_db": best[1], "tuned_on": "VAL records, nstdb val-part noise",
                        "val_mean_gain_db": float(np.mean(list(results[best].values()))),
                        "val_mean_gain_ungated_db": float(np.mean(list(results[(None, None)].values())))}
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
        print(f"gate written to {meta_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
