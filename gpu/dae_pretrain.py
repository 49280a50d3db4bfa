"""Time DAE pretraining on a GPU (issue 3's GPU figure), through the one training loop ``ecgdl.train.fit``.

    python gpu/dae_pretrain.py --build      # here (CPU, needs the data folder): writes gpu/data/dae_pretrain.npz
    python gpu/dae_pretrain.py              # on the GPU machine: < 90 s, prints the timing figures

The data file (< 20 MiB, fp16) holds conditioned clean stretches of the DS1 TRAIN records (5 min
each) and VAL records (2 min each), and the NSTDB ``train``/``val`` noise parts, raw and
conditioned, exactly as ``ecgdl.noise.NoiseBank`` builds them. The GPU run is the CPU recipe of
``pipelines/pretrain_dae.py``: the same model, window, windows per epoch, loss, SNR range, noise
kinds, and the same ``fit`` with ``ecgdl.pretrain.PretrainConfig``'s training settings (optimiser,
parameter groups, gradient clipping, early stopping on ``val_nmse``) on ``--device``; only the
noise mixing is done on the GPU (``_noisy``, as ``NoiseBank.corrupt_mixed``). Prints seconds per
epoch and in all.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "dae_pretrain.npz"
sys.path.insert(0, str(HERE.parent))  # the repository root, for ecgdl


def build(path: Path = DATA, train_s: float = 300.0, val_s: float = 120.0) -> None:
    """Write the data file from the local MIT-BIH / NSTDB folders (CPU)."""
    from ecgdl.noise import NOISE_KINDS, NoiseBank
    from ecgdl.paths import database_dir
    from ecgdl.pretrain import conditioned_signal
    from ecgdl.splits import TRAIN, VAL

    arrays = {}
    for name, records, secs in (("train", TRAIN, train_s), ("val", VAL, val_s)):
        sigs = [conditioned_signal(database_dir("mitdb") / r) for r in records]
        n = int(secs * 360)
        arrays[f"clean_{name}"] = np.stack([s[s.shape[0] // 2 - n // 2: s.shape[0] // 2 + n - n // 2] for s in sigs]).astype(np.float16)
        bank = NoiseBank(name)
        for kind in NOISE_KINDS:
            part = bank._parts[kind]
            arrays[f"noise_{name}_{kind}_raw"] = part.raw.astype(np.float16)
            arrays[f"noise_{name}_{kind}_cond"] = part.cond.astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


def _windows(sig, n, length, gen):
    """``n`` random windows ``(n, 2, length)`` from ``sig`` ``(R, N, 2)`` (a record, then an offset)."""
    import torch

    r = torch.randint(0, sig.shape[0], (n,), device=sig.device, generator=gen)
    s = torch.randint(0, sig.shape[1] - length + 1, (n,), device=sig.device, generator=gen)
    idx = s[:, None] + torch.arange(length, device=sig.device)[None, :]
    return sig[r[:, None], idx].permute(0, 2, 1)  # (n, 2, length)


def _noisy(clean, noise, gen, snr_range: tuple[float, float] = (-6.0, 24.0)):
    """NoiseBank.corrupt_mixed on the GPU: kind uniform over bw/em/ma/mix, raw SNR uniform in range."""
    import torch

    n, _, length = clean.shape
    raws, conds = [], []
    for raw, cond in noise:
        s = torch.randint(0, raw.shape[0] - length + 1, (n,), device=clean.device, generator=gen)
        idx = s[:, None] + torch.arange(length, device=clean.device)[None, :]
        r, c = raw[idx].permute(0, 2, 1), cond[idx].permute(0, 2, 1)
        k = r.pow(2).mean(-1, keepdim=True).clamp_min(1e-12).rsqrt()
        raws.append(r * k)
        conds.append(c * k)
    kind = torch.randint(0, 4, (n,), device=clean.device, generator=gen)
    w = torch.nn.functional.one_hot(kind, 4).float()[:, :3] + (kind == 3).float()[:, None]  # (n, 3)
    raw = torch.einsum("nk,knct->nct", w, torch.stack(raws))
    cond = torch.einsum("nk,knct->nct", w, torch.stack(conds))
    snr = torch.rand(n, 1, 1, device=clean.device, generator=gen) * (snr_range[1] - snr_range[0]) + snr_range[0]
    scale = (clean.pow(2).mean(-1, keepdim=True) / (raw.pow(2).mean(-1, keepdim=True).clamp_min(1e-12)
                                                     * 10 ** (snr / 10))).sqrt()
    return clean + scale * cond


def train(path: Path, args) -> int:
    """The timed GPU pretraining run."""
    from dataclasses import replace

    import torch

    from ecgdl.models import build_model
    from ecgdl.models.dae import dae_loss
    from ecgdl.pretrain import PretrainConfig
    from ecgdl.train import fit

    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    t_load = time.perf_counter()
    z = np.load(path)
    t = {k: torch.from_numpy(z[k].astype(np.float32)).to(dev) for k in z.files}
    noise = {part: [(t[f"noise_{part}_{k}_raw"], t[f"noise_{part}_{k}_cond"]) for k in ("bw", "em", "ma")]
             for part in ("train", "val")}
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    print(f"device {name}; data loaded in {time.perf_counter() - t_load:.1f} s", flush=True)
    recipe = PretrainConfig()
    cfg = replace(recipe.train, epochs=args.epochs, device=str(dev))
    gen = torch.Generator(device=dev).manual_seed(0)
    v_clean = _windows(t["clean_val"], recipe.val_windows, args.window, gen)
    v_noisy = _noisy(v_clean, noise["val"], gen, recipe.snr_range)
    model = build_model("dae", code_l1=0.01)  # the shipped (sparse) recipe
    torch.backends.cudnn.benchmark = True
    ends = []

    def batches(epoch: int):
        clean = _windows(t["clean_train"], args.windows_per_epoch, args.window, gen)
        noisy = _noisy(clean, noise["train"], gen, recipe.snr_range)
        for i in range(0, args.windows_per_epoch, args.batch_size):
            yield noisy[i:i + args.batch_size], clean[i:i + args.batch_size]

    def evaluate(m) -> dict:
        nmse = ((m(v_noisy) - v_clean) ** 2).sum(dim=(1, 2)) / (v_clean ** 2).sum(dim=(1, 2)).clamp_min(1e-6)
        sync()
        ends.append(time.perf_counter())
        return {"val_nmse": float(nmse.mean())}

    sync()
    hist = fit(model, batches, lambda m, b: dae_loss(m, b[0], b[1], recipe.loss), evaluate, cfg, progress=True)
    per_epoch = np.diff([ends[-1] - hist.seconds, *ends])  # from the start of fit's loop (after its set-up)
    print(f"GPU pretraining: {len(hist.epochs)} epochs x {args.windows_per_epoch} windows of {args.window} samples "
          f"in {hist.seconds:.1f} s through ecgdl.train.fit (median epoch {np.median(per_epoch):.2f} s; first epoch "
          f"incl. warm-up {per_epoch[0]:.2f} s; best val_nmse {hist.best_value:.4f} at epoch {hist.best_epoch})")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", action="store_true")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--windows-per-epoch", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--window", type=int, default=1008)
    p.add_argument("--device", default="cuda", help="cpu only for a smoke test of this script")
    args = p.parse_args(argv)
    if args.build:
        build()
        return 0
    return train(DATA, args)


if __name__ == "__main__":
    sys.exit(main())
