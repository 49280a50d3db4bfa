"""Every registered model: output shape, a gradient on every parameter, no NaN."""

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from ecgdl.models import REGISTRY, build_model, list_models


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _input_shape(name: str) -> tuple[int, int]:
    """(channels, samples) a model of this registry entry expects by default."""
    cfg_cls = REGISTRY[name][0]
    defaults = {f.name: f.default for f in fields(cfg_cls)}
    c = next((defaults[k] for k in ("in_channels", "channels", "n_channels", "leads") if isinstance(defaults.get(k), int)), 2)
    t = next((defaults[k] for k in ("n_samples", "length", "window", "samples") if isinstance(defaults.get(k), int)), 252)
    return c, t


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_gradients_and_finite(name):
    torch.manual_seed(0)
    model = build_model(name)
    model.train()
    c, t = _input_shape(name)
    x = torch.randn(4, c, t)
    if model.kind == "classifier":
        rr = torch.randn(4, model.config.n_rr)
        out = model(x, rr)
        assert out.shape == (4, model.config.n_classes)
    else:
        out = model(x)
        assert out.shape == x.shape
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"parameters without a finite gradient: {missing}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("name", list_models("classifier"))
def test_activation_is_a_hyperparameter(name, act):
    if "activation" not in {f.name for f in fields(REGISTRY[name][0])}:
        pytest.skip(f"{name} has no activation hyper-parameter")
    model = build_model(name, activation=act).eval()
    c, t = _input_shape(name)
    out = model(torch.randn(2, c, t), torch.randn(2, model.config.n_rr))
    assert out.shape == (2, 5) and torch.isfinite(out).all()


@pytest.mark.parametrize("siamese", [True, False])
def test_cnn_variants_and_single_lead(siamese):
    model = build_model("cnn", in_channels=2, group_channels=1, siamese=siamese, n_samples=84).eval()
    assert model(torch.randn(3, 2, 84), torch.randn(3, model.config.n_rr)).shape == (3, 5)


def test_registry_holds_the_issue_models():
    assert {"logreg", "mlp", "cnn", "lstm"} <= set(list_models("classifier"))
