"""Denoising benchmark (issue 3): DAE vs band-pass baseline on DS2 windows with held-out NSTDB noise.

    python benchmarks/denoise_benchmark.py [--models ecgdl/shipped/dae.onnx runs/dae_plain/dae_plain.onnx]
        [--per-record 40] [--seed 0] [--json out/denoise_benchmark.json] [--figure docs/figures/denoise_0db.png]

Protocol. Clean = windows of the model's length (sidecar ``window``, both leads) at random offsets
in the conditioned (0.5-40 Hz) DS2 records, ``--per-record`` per record. Noise = the ``eval`` part (last 30 %) of
the NSTDB ``bw``/``em``/``ma`` records (never seen in training or early stopping) and their mix,
scaled per window and lead to the input SNR (raw noise power, see ``ecgdl.noise``). The noisy
recording is then band-passed like the cache: that band-passed window *is* the band-pass baseline's
output, and it is the DAE's input. ``DAE+gate`` is the shipped model as ``Denoiser`` serves it
(with the sidecar's noise gate), ``DAE`` the same network ungated; other models run ungated. Metrics against the clean window, averaged over windows:
SNR improvement = output SNR - input SNR (dB); RMSE (mV); PRD = 100 * ||out - clean|| / ||clean|| (%).
A second check runs the whole-record path (``Denoiser.denoise``, overlapping stitched windows) on
60-s stretches of DS2 records at 0 dB mixed noise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ecgdl.denoise import Denoiser
from ecgdl.noise import ALL_KINDS, NoiseBank
from ecgdl.paths import MODELS_DIR
from ecgdl.splits import DS2


def window_metrics(clean: np.ndarray, out: np.ndarray) -> dict[str, np.ndarray]:
    """Per-window SNR (dB), RMSE (mV), PRD (%) of ``out`` against ``clean``, both ``(B, C, T)``."""
    c, e = clean.astype(np.float64), out.astype(np.float64) - clean
    pc, pe = (c**2).sum(axis=(1, 2)), np.maximum((e**2).sum(axis=(1, 2)), 1e-20)
    return {"snr": 10 * np.log10(pc / pe), "rmse": np.sqrt((e**2).mean(axis=(1, 2))), "prd": 100 * np.sqrt(pe / pc)}


def ds2_windows(per_record: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_record`` random windows of ``length`` samples from each conditioned DS2 record.

    Returns ``(x (n, 2, length) mV, record (n,))``.
    """
    from ecgdl.paths import database_dir
    from ecgdl.pretrain import conditioned_signal, random_windows

    rng = np.random.default_rng(seed)
    xs, names = [], []
    for r in DS2:
        xs.append(random_windows([conditioned_signal(database_dir("mitdb") / r)], per_record, length, rng))
        names += [r] * per_record
    return np.concatenate(xs), np.array(names)


def run_table(models: dict[str, Denoiser], clean: np.ndarray, bank: NoiseBank, snrs, kinds, seed: int,
              keep: dict | None = None) -> list[dict]:
    """One row per (kind, input SNR, method). ``keep``: filled with per-window output SNRs by (kind, snr, method)."""
    rows = []
    for ki, kind in enumerate(kinds):
        for si, snr in enumerate(snrs):
            noisy = bank.corrupt(clean, snr, np.random.default_rng([seed, ki, si]), kind)  # band-passed = baseline
            outs = {"band-pass": noisy, **{name: dn.denoise_windows(noisy) for name, dn in models.items()}}
            for method, out in outs.items():
                m = window_metrics(clean, out)
                if keep is not None:
                    keep[(kind, snr, method)] = m["snr"]
                rows.append({"noise": kind, "snr_in_db": snr, "method": method,
                             "snr_improvement_db": float(m["snr"].mean() - snr),
                             "rmse_mv": float(m["rmse"].mean()), "prd_pct": float(m["prd"].mean())})
    return rows


def goal_check(keep: dict, records: np.ndarray, method: str, seed: int, kind: str = "mix", snr: float = 0.0) -> dict:
    """DAE minus band-pass output SNR at (kind, snr): mean, per-record spread, bootstrap 95 % CI over records."""
    diff = keep[(kind, snr, method)] - keep[(kind, snr, "band-pass")]
    names = sorted(set(records))
    per_rec = np.array([diff[records == r].mean() for r in names])
    rng = np.random.default_rng(seed)
    boot = [per_rec[rng.integers(0, len(per_rec), len(per_rec))].mean() for _ in range(2000)]
    return {"noise": kind, "snr_in_db": snr, "method": method, "mean_gain_over_bandpass_db": float(diff.mean()),
            "ci95_over_records_db": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "records_below_5db": int((per_rec < 5).sum()), "records": len(names),
            "improvement_db": float(keep[(kind, snr, method)].mean() - snr)}


def record_check(dn: Denoiser, bank: NoiseBank, mitdb: Path, records, seconds: float, seed: int) -> dict:
    """Whole-record path: 60-s stretches at 0 dB mix through ``Denoiser.denoise`` (stitched windows)."""
    from ecgdl.pretrain import conditioned_signal

    rng = np.random.default_rng(seed)
    gains_bp, gains_dae = [], []
    for r in records:
        sig = conditioned_signal(mitdb / r)
        n = int(seconds * dn.fs)
        start = int(rng.integers(0, sig.shape[0] - n))
        clean = sig[start:start + n].T[None]                                  # (1, 2, n)
        noisy = bank.corrupt(clean, 0.0, rng, "mix")
        out = dn.denoise(noisy[0].T, dn.fs).T[None]
        gains_bp.append(window_metrics(clean, noisy)["snr"][0])
        gains_dae.append(window_metrics(clean, out)["snr"][0])
    return {"records": list(records), "seconds": seconds, "snr_in_db": 0.0, "noise": "mix",
            "band-pass_improvement_db": float(np.mean(gains_bp)), "dae_improvement_db": float(np.mean(gains_dae))}


def markdown(rows: list[dict], methods: list[str]) -> str:
    """One table: a row per (noise, input SNR); improvement / RMSE / PRD per method."""
    head = "| noise | SNR in (dB) | " + " | ".join(
        f"{m} ΔSNR (dB)" for m in methods) + " | " + " | ".join(f"{m} RMSE (mV)" for m in methods) + " | " + \
        " | ".join(f"{m} PRD (%)" for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 + 3 * len(methods))]
    keys = sorted({(r["noise"], r["snr_in_db"]) for r in rows}, key=lambda k: (ALL_KINDS.index(k[0]), k[1]))
    for kind, snr in keys:
        by = {r["method"]: r for r in rows if r["noise"] == kind and r["snr_in_db"] == snr}
        cells = [f"{by[m]['snr_improvement_db']:.1f}" for m in methods] + [f"{by[m]['rmse_mv']:.3f}" for m in methods] + \
            [f"{by[m]['prd_pct']:.0f}" for m in methods]
        lines.append(f"| {kind} | {snr:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure(dn: Denoiser, clean: np.ndarray, records: np.ndarray, bank: NoiseBank, path: Path, seed: int) -> None:
    """Noisy / denoised / clean beats at 0 dB, one panel per noise kind (primary lead, one window each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(2, 2, figsize=(12, 6.5))
    axes = axes.ravel()
    t = np.arange(clean.shape[-1]) / dn.fs
    for ax, kind in zip(axes, ALL_KINDS):
        i = int(rng.integers(len(clean)))
        noisy = bank.corrupt(clean[i:i + 1], 0.0, rng, kind)
        out = dn.denoise_windows(noisy)
        snr_bp, snr_dae = window_metrics(clean[i:i + 1], noisy)["snr"][0], window_metrics(clean[i:i + 1], out)["snr"][0]
        ax.plot(t, noisy[0, 0], color="0.6", lw=1, label="noisy, band-passed (input)")
        ax.plot(t, clean[i, 0], color="k", lw=1.5, label="clean")
        ax.plot(t, out[0, 0], color="tab:red", lw=1.2, label="DAE output")
        ax.set_title(f"{kind} at 0 dB, record {records[i]}: band-pass {snr_bp:.1f} dB, DAE {snr_dae:.1f} dB", fontsize=10)
        ax.set_xlabel("s")
    axes[0].set_ylabel("mV (primary lead)")
    axes[2].set_ylabel("mV (primary lead)")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", type=Path, default=[MODELS_DIR / "dae.onnx"])
    p.add_argument("--per-record", type=int, default=40)
    p.add_argument("--snrs", nargs="+", type=float, default=[-6.0, 0.0, 6.0, 12.0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--record-seconds", type=float, default=60.0)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--figure", type=Path, default=None)
    p.add_argument("--sidecar", action="store_true",
                   help="also write the first model's 0-dB goal figures into its sidecar's metrics.ds2_benchmark")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from ecgdl.paths import database_dir

    models: dict[str, Denoiser] = {}
    for path in args.models:  # the shipped model twice: as served (with its sidecar's noise gate) and raw
        if path.stem == "dae":
            models.update({"DAE+gate": Denoiser(path), "DAE": Denoiser(path, gate=False)})
        else:
            models[path.stem] = Denoiser(path, gate=False)
    t0 = time.perf_counter()
    first = next(iter(models.values()))
    clean, records = ds2_windows(args.per_record, first.window, args.seed)
    bank = NoiseBank("eval")
    print(f"{len(clean)} DS2 windows from {len(set(records))} records; eval noise bank ready "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    t0 = time.perf_counter()
    keep: dict = {}
    rows = run_table(models, clean, bank, args.snrs, ALL_KINDS, args.seed, keep)
    seconds = time.perf_counter() - t0
    n_windows = len(clean) * len(args.snrs) * len(ALL_KINDS) * len(models)
    print(markdown(rows, ["band-pass", *models]))
    goals = [goal_check(keep, records, name, args.seed) for name in models] if 0.0 in args.snrs else []
    for g in goals:
        print(f"{g['method']} at 0 dB mix: improvement {g['improvement_db']:.1f} dB; over band-pass "
              f"{g['mean_gain_over_bandpass_db']:+.1f} dB (95 % CI over records {g['ci95_over_records_db'][0]:+.1f} to "
              f"{g['ci95_over_records_db'][1]:+.1f}; {g['records_below_5db']}/{g['records']} records below +5)")
    print(f"\n{n_windows} model windows in {seconds:.1f} s ({n_windows / seconds:.0f} windows/s incl. noise)")
    rec = record_check(first, bank, database_dir("mitdb"), DS2[:6], args.record_seconds, args.seed)
    print(f"whole-record path (stitched windows), {rec['seconds']:.0f}-s stretches of {', '.join(rec['records'])} "
          f"at 0 dB mix: band-pass {rec['band-pass_improvement_db']:+.1f} dB, DAE {rec['dae_improvement_db']:+.1f} dB")
    if args.figure:
        figure(first, clean, records, bank, args.figure, args.seed)
        print(f"figure: {args.figure}")
    if args.sidecar and goals:
        meta_path = first.path.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta.setdefault("metrics", {})["ds2_benchmark"] = {**goals[0], "windows": len(clean), "window_s": first.window / first.fs,
                                                            "noise_part": "eval", "command": "benchmarks/denoise_benchmark.py"}
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rows": rows, "goals": goals, "record_check": rec, "windows": len(clean),
                                         "models": {k: str(v.path) for k, v in models.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
