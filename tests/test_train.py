"""The training loop: early stopping restores the best weights; DS2 never reaches training or selection."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

from ecgdl.paths import REPO_ROOT
from ecgdl.splits import DS2, PACED, SplitError
from ecgdl.train import EarlyStopping, TrainConfig, fit, load_checkpoint


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _pipeline(name: str):
    spec = importlib.util.spec_from_file_location(f"pipeline_{name}", REPO_ROOT / "pipelines" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("values, patience, best, n_epochs", [
    ([0.1, 0.5, 0.3, 0.2, 0.9], 2, 1, 4),     # stops after 2 epochs without improvement
    ([0.1, 0.2, 0.3, 0.4, 0.5], 2, 4, 5),     # keeps improving: runs every epoch
    ([0.5, 0.4, 0.6, 0.1, 0.1, 0.1, 0.9], 3, 2, 6),
])
def test_early_stopping_stops_and_restores_best_weights(values, patience, best, n_epochs):
    """A toy regression trained by ``fit``; the monitored metric is scripted, the weights are real."""
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    model = torch.nn.Linear(3, 1)
    snapshots = []

    def evaluate(m):
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"val_macro_f1": values[len(snapshots) - 1]}

    def loss_fn(m, batch):
        return torch.nn.functional.mse_loss(m(batch[0]).squeeze(1), batch[1])

    cfg = TrainConfig(epochs=len(values), lr=0.05, patience=patience, threads=1)
    hist = fit(model, lambda epoch: [(x, y)] * 4, loss_fn, evaluate, cfg, progress=False)
    assert len(hist.epochs) == n_epochs and hist.best_epoch == best
    assert hist.stopped_early == (n_epochs < len(values))
    assert not torch.equal(snapshots[best]["weight"], snapshots[-1]["weight"]) or best == n_epochs - 1
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[best][k])


def test_early_stopping_min_delta_and_mode():
    s = EarlyStopping(patience=1, mode="min", min_delta=0.1)
    assert s.step(1.0) and not s.step(0.95) and s.should_stop


def test_fit_learns_a_separable_toy_problem():
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = torch.nn.Linear(2, 2)

    def evaluate(m):
        return {"val_macro_f1": float((m(x).argmax(1) == y).float().mean())}

    hist = fit(model, lambda e: [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)],
               lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), evaluate,
               TrainConfig(epochs=15, lr=0.05, patience=5, threads=1), progress=False)
    assert hist.best_value > 0.95


@pytest.mark.parametrize("override", ['data.val_records=["100"]', 'data.train_records=["101", "232"]',
                                      'data.val_records=["217"]'])
def test_test_records_cannot_reach_training_or_selection(override, tmp_path, monkeypatch):
    """The real train pipeline refuses DS2 and paced records before anything is loaded."""
    monkeypatch.setenv("ECGDL_RUNS", str(tmp_path))
    with pytest.raises(SplitError):
        _pipeline("train").main(["--config", str(REPO_ROOT / "configs" / "cnn.toml"), "--name", "x", "--set", override])


def test_training_run_reads_only_train_and_val_records(prepared_cache, tmp_path):
    """Through the real code path: a tiny run on its default splits; no DS2 beat in its data or checkpoint."""
    from ecgdl.classifier_training import load_config, prepare_data, train_classifier

    cfg = load_config(REPO_ROOT / "configs" / "mlp.toml",   # mlp: cnn.toml's model_params are a CNN's
                      ["train.epochs=1", "data.epoch_beats=256", "augment.p_noise=0.0"])
    data = prepare_data(cfg, cache=prepared_cache)
    seen = set(data[0]["record"]) | set(data[1]["record"])
    assert seen and not seen & (set(DS2) | set(PACED))
    assert set(data[1]["record"]) == set(cfg.data.val_records)
    _, hist, report = train_classifier(cfg, run_dir=tmp_path, data=data, progress=False)
    _, blob = load_checkpoint(tmp_path / "checkpoint.pt")
    recs = set(blob["extra"]["train_records"]) | set(blob["extra"]["val_records"])
    assert not recs & set(DS2) and len(hist.epochs) == 1
    assert report["n"] == len(data[1]["y"])
    json.dumps(blob["extra"]["stats"])
    assert np.isfinite(report["macro_f1"])


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_fit_trains_on_the_device_it_is_given(device, tmp_path):
    """The classifier recipe's pieces (registry CNN, class-weighted loss, predict_logits) on ``device``:
    fit moves the model and every CPU batch there, and the checkpoint loads back on the CPU."""
    from ecgdl.classifier_training import DataConfig, RunConfig, _loss_fn, predict_logits
    from ecgdl.models import build_model
    from ecgdl.train import model_device

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 96)
    x = (rng.normal(size=(96, 2, 126)) + y[:, None, None]).astype(np.float32)
    rr = rng.normal(size=(96, 23)).astype(np.float32)
    loss = _loss_fn(RunConfig(data=DataConfig(imbalance="weights")), y)
    seen = []

    def loss_fn(m, batch):
        seen.append(batch[0].device.type)
        return loss(m, batch)

    def evaluate(m):
        assert model_device(m).type == device
        pred = predict_logits(m, {"beats": x, "rr": rr}).argmax(1)
        return {"val_macro_f1": float((pred == y).mean())}

    batches = [tuple(torch.from_numpy(a[i:i + 32]) for a in (x, rr, y)) for i in range(0, 96, 32)]
    model = build_model("cnn")
    hist = fit(model, lambda e: batches, loss_fn, evaluate, TrainConfig(epochs=2, device=device, threads=1),
               run_dir=tmp_path, progress=False)
    assert set(seen) == {device} and len(seen) == 6 and len(hist.epochs) == 2
    loaded, _ = load_checkpoint(tmp_path / "checkpoint.pt")
    assert model_device(loaded).type == "cpu"


def test_weight_decay_only_on_weights_of_two_or_more_dims():
    from ecgdl.models import build_model
    from ecgdl.train import make_optimizer

    model = build_model("cnn")
    decay, no_decay = make_optimizer(model, TrainConfig(weight_decay=1e-3)).param_groups
    assert decay["weight_decay"] == 1e-3 and no_decay["weight_decay"] == 0.0
    assert decay["params"] and all(p.dim() >= 2 for p in decay["params"])
    assert no_decay["params"] and all(p.dim() < 2 for p in no_decay["params"])      # biases, batch-norm
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_build_model_rejects_unknown_config_keys():
    from ecgdl.models import build_model

    with pytest.raises(KeyError, match="unknown CNNConfig keys \\['widht'\\]"):
        build_model("cnn", {"widht": 16})
