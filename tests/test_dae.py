"""The denoising autoencoder: shapes, encoder contract, a short real training, seamless record denoising."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgdl.models import build_model
from ecgdl.paths import MODELS_DIR, REPO_ROOT

VARIANTS = [{}, {"skips": True}, {"residual": False, "normalise": False}, {"code_l1": 1e-3, "dropout": 0.0}]


def _pipeline():
    """The pretraining pipeline module (pipelines/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("pretrain_dae", REPO_ROOT / "pipelines" / "pretrain_dae.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("overrides", VARIANTS)
@pytest.mark.parametrize("t", [252, 100, 1001])
def test_dae_shapes_and_encoder_contract(overrides, t):
    model = build_model("dae", **overrides).eval()
    x = torch.randn(3, 2, t) * 0.3
    code = model.encoder(x)
    assert model.kind == "denoiser" and model.encoder.out_channels == model.config.channels[-1]
    assert code.shape == (3, model.encoder.out_channels, -(-t // model.encoder.stride))
    y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("overrides", VARIANTS)
def test_dae_every_parameter_gets_a_gradient(overrides):
    from ecgdl.models.dae import dae_loss

    model = build_model("dae", **overrides).train()
    dae_loss(model, torch.randn(4, 2, 252), torch.randn(4, 2, 252)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_normalised_dae_is_amplitude_equivariant():
    """With per-window RMS normalisation, scaling the input (mV) scales the output the same way."""
    model = build_model("dae").eval()
    x = torch.randn(2, 2, 252)
    torch.testing.assert_close(model(3.0 * x), 3.0 * model(x), rtol=1e-4, atol=1e-5)


def test_short_pretraining_reduces_validation_loss(mitdb_dir, nstdb_dir):
    """A few hundred real noisy windows, two epochs: the validation MSE drops (kept < 20 s)."""
    from ecgdl.pretrain import DenoisingData, PretrainConfig, pretrain_dae

    data = DenoisingData.from_records(["101", "106"], ["118"], mitdb_dir, nstdb=nstdb_dir)
    base = PretrainConfig()
    cfg = replace(base, window_s=0.7, windows_per_epoch=768, val_windows=192, batch_size=32,
                  train=replace(base.train, epochs=2, lr=3e-3, patience=5))
    model = build_model("dae", channels=(8, 16, 32))
    noisy, clean = (torch.from_numpy(a) for a in data.noisy_pairs(192, cfg.window, np.random.default_rng(7), cfg,
                                                                    val=True))
    with torch.no_grad():
        before = float(torch.mean((model.eval()(noisy) - clean) ** 2))
    hist = pretrain_dae(model, data, cfg, progress=False)
    with torch.no_grad():
        after = float(torch.mean((model.eval()(noisy) - clean) ** 2))
    assert after < 0.7 * before  # the training itself takes ~5 s here (hist.seconds), < 20 s under load
    assert hist.best_epoch >= 0 and np.isfinite(hist.best_value)


@pytest.fixture(scope="module")
def identity_onnx(tmp_path_factory) -> Path:
    """A residual DAE whose noise head is zero: the exported model is exactly the identity."""
    import json

    model = build_model("dae", residual=True).eval()
    with torch.no_grad():
        model.decoder.head.weight.zero_()
        model.decoder.head.bias.zero_()
    path = tmp_path_factory.mktemp("onnx") / "identity.onnx"
    _pipeline().export_onnx(model, path, 252)
    path.with_suffix(".json").write_text(json.dumps({"fs": 360.0, "window": 252, "channels": 2}))
    return path


@pytest.mark.parametrize("n, leads, fs", [(3600, 2, 360.0), (1000, 1, 360.0), (777, 3, 360.0), (100, 2, 360.0),
                                          (2500, 2, 250.0)])
def test_record_stitching_is_seamless(identity_onnx, n, leads, fs):
    """Through an identity model, the overlap-and-taper stitching returns the record unchanged."""
    from ecgdl.denoise import Denoiser

    t = np.arange(n) / fs
    x = np.stack([np.sin(2 * np.pi * (1.1 + k) * t) + 0.1 * k for k in range(leads)], axis=1).astype(np.float32)
    y = Denoiser(identity_onnx).denoise(x, fs)
    assert y.shape == x.shape
    tol = 1e-5 if fs == 360.0 else 0.05  # resampling to 360 Hz and back is not exact at the ends
    np.testing.assert_allclose(y[20:-20] if fs != 360.0 else y, x[20:-20] if fs != 360.0 else x, atol=tol)


def test_onnx_matches_torch(tmp_path, mitdb_dir):
    """The export checks parity itself; on real windows of record 100, both at 252 and at 4x 252."""
    from ecgdl.pretrain import conditioned_signal, random_windows

    mod = _pipeline()
    model = build_model("dae").eval()
    path = tmp_path / "dae.onnx"
    mod.export_onnx(model, path, 252)
    x = random_windows([conditioned_signal(mitdb_dir / "100")], 64, 252, np.random.default_rng(0))
    par = mod.parity(model, path, x)
    assert par["max_abs_diff_mv"] < 1e-4 and par["max_abs_diff_mv_4x_window"] < 1e-4


def test_shipped_denoiser_improves_a_noisy_test_record(mitdb_dir, nstdb_dir):
    """ecgdl/shipped/dae.onnx on 20 s of DS2 record 100 + held-out mixed noise at -6 dB: SNR rises by > 3 dB."""
    from ecgdl.denoise import Denoiser
    from ecgdl.noise import NoiseBank
    from ecgdl.pretrain import conditioned_signal
    from ecgdl.signal import snr_db

    onnx = MODELS_DIR / "dae.onnx"
    if not onnx.is_file():
        pytest.skip("ecgdl/shipped/dae.onnx not built yet: run pipelines/pretrain_dae.py")
    clean = conditioned_signal(mitdb_dir / "100")[36000:43200]                          # (7200, 2) mV
    noisy = NoiseBank("eval", nstdb=nstdb_dir).corrupt(clean.T[None], -6.0, np.random.default_rng(0), "mix")[0].T
    out = Denoiser(onnx).denoise(noisy, 360.0)
    assert snr_db(clean, out) > snr_db(clean, noisy) + 3.0


@pytest.mark.parametrize("snr_hat_db, full_dae", [(-5.0, True), (30.0, False)])
def test_noise_gate_passes_clean_windows_and_denoises_noisy_ones(snr_hat_db, full_dae):
    """The gate serves the DAE output where the DAE removes a lot, the input where it removes little."""
    from ecgdl.denoise import apply_gate

    rng = np.random.default_rng(0)
    y = rng.normal(size=(4, 2, 1008)).astype(np.float32)            # "denoised"
    removed = rng.normal(size=y.shape)
    removed *= np.sqrt((y**2).sum() / (removed**2).sum() / 10 ** (snr_hat_db / 10))
    x = (y + removed).astype(np.float32)                              # input = output + removed part
    out = apply_gate(x, y, tau_db=12.0, width_db=1.0)
    np.testing.assert_allclose(out, y if full_dae else x, atol=1e-3)


def test_shipped_sidecar_gate_is_applied(mitdb_dir):
    from ecgdl.denoise import Denoiser
    from ecgdl.pretrain import conditioned_signal

    onnx = MODELS_DIR / "dae.onnx"
    if not onnx.is_file():
        pytest.skip("ecgdl/shipped/dae.onnx not built yet: run pipelines/pretrain_dae.py")
    gated, raw = Denoiser(onnx), Denoiser(onnx, gate=False)
    if gated.gate is None:
        pytest.skip("ecgdl/shipped/dae.json has no gate: run benchmarks/denoise_gate.py --write")
    x = conditioned_signal(mitdb_dir / "100")[:gated.window].T[None]  # a clean window
    # On clean signal the gate keeps the served output at least as close to the input as the raw DAE.
    assert np.abs(gated.denoise_windows(x) - x).mean() <= np.abs(raw.denoise_windows(x) - x).mean() + 1e-6
