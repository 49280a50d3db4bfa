"""ecgdl.adapt.kmeans with restarts (AdaptConfig.n_init): the lowest-inertia initialisation is kept, and the option
round-trips through the sidecar only when set."""
import numpy as np

from ecgdl.adapt import AdaptConfig, kmeans


def _inertia(v, lab, c):
    return float(((v.astype(np.float64) - c.astype(np.float64)[lab]) ** 2).sum())


def test_restarts_keep_the_lowest_inertia_of_their_seeds():
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.normal(m, 0.3, (60, 4)) for m in (0.0, 2.0, 4.0, 6.0, 8.0)]).astype(np.float32)
    single = [_inertia(v, *kmeans(v, 5, s, 15)) for s in range(4)]
    best = _inertia(v, *kmeans(v, 5, 0, 15, n_init=4))
    assert best == min(single)


def test_n_init_is_in_the_sidecar_only_when_set():
    assert "n_init" not in AdaptConfig().to_dict()
    d = AdaptConfig(n_init=5).to_dict()
    assert d["n_init"] == 5 and AdaptConfig.from_dict(d).n_init == 5
    assert AdaptConfig.from_dict(AdaptConfig().to_dict()).n_init == 1


def test_n_ensemble_is_in_the_sidecar_only_when_set():
    assert "n_ensemble" not in AdaptConfig().to_dict()
    assert AdaptConfig.from_dict(AdaptConfig(n_ensemble=3).to_dict()).n_ensemble == 3
