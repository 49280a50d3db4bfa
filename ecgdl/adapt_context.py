"""The context step (docs/episodes.md round 29): a V beat read in its run's context.

After the adapt step (:mod:`ecgdl.adapt`), a beat whose adapted label is N, S or F (never Q, the noise gate's) and
whose neighbour before or after is adapted V is a *candidate*: a beat inside or at the end of a ventricular run that
the record's clustering may have pulled into the N cluster (MIT-BIH 200's and 221's VT runs). A logistic regression
over the candidate's context (:func:`context_features`, all from the record's own unlabelled beats) gives p(V); a
candidate with p(V) >= ``threshold`` becomes V. The regression is fitted on DS1 out-of-fold beats
(``pipelines/context_v_cv.py``) and ships in the sidecar's ``adapt.context`` (:meth:`ContextV.from_dict`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

#: the inputs of :func:`context_features`, in order
FEATURES = ("z_prev", "z", "z_next", "v_m2", "v_m1", "v_p1", "v_p2", "v_m1_p1", "is_S", "is_F", "log_rr_pre",
            "log_rr_post")
CLIP = 8.0


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return np.clip(np.log(p / (1 - p)), -CLIP, CLIP)


def candidates(label: np.ndarray) -> np.ndarray:
    """Indices of the beats labelled N, S or F with an adapted-V neighbour."""
    lab = np.asarray(label).astype("<U1")
    v = lab == "V"
    nb = np.zeros(len(lab), bool)
    nb[1:] |= v[:-1]
    nb[:-1] |= v[1:]
    return np.flatnonzero(nb & np.isin(lab, ["N", "S", "F"]))


def context_features(sample: np.ndarray, fs: float, label: np.ndarray, p_v_ind: np.ndarray,
                     idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(idx, X)``: the candidates (:func:`candidates`, or ``idx``) and their :data:`FEATURES` rows.

    sample: beat positions (samples at ``fs``); label: adapted labels (letters); p_v_ind: the classifier's p(V)
    before the adapt step. RR in log units of the record's median N-N interval (all RR when under 5 N-N pairs).
    """
    lab = np.asarray(label).astype("<U1")
    n = len(lab)
    idx = candidates(lab) if idx is None else np.asarray(idx, int)
    if n < 2 or not len(idx):
        return idx[:0], np.zeros((0, len(FEATURES)))
    rr = np.diff(np.asarray(sample, np.float64)) / float(fs)
    nn = (lab[1:] == "N") & (lab[:-1] == "N")
    ref = float(np.median(rr[nn] if nn.sum() >= 5 else rr))
    pre = np.r_[rr[0], rr]          # RR ending at each beat (the first beat: its following RR)
    post = np.r_[rr, rr[-1]]
    z = _log_odds(p_v_ind)
    v = (lab == "V").astype(np.float64)

    def at(a, k, fill=0.0):
        j = idx + k
        return np.where((j >= 0) & (j < n), a[np.clip(j, 0, n - 1)], fill)

    x = np.c_[at(z, -1, -CLIP), z[idx], at(z, 1, -CLIP), at(v, -2), at(v, -1), at(v, 1), at(v, 2),
              at(v, -1) * at(v, 1), lab[idx] == "S", lab[idx] == "F",
              np.log(np.maximum(pre[idx], 1e-3) / ref), np.log(np.maximum(post[idx], 1e-3) / ref)]
    return idx, x.astype(np.float64)


@dataclass(frozen=True)
class ContextV:
    """The fitted regression: standardised inputs (``mean``, ``sd``), ``weights``, ``bias``; relabels at ``threshold``."""
    mean: list[float]
    sd: list[float]
    weights: list[float]
    bias: float
    threshold: float = 0.5
    features: tuple[str, ...] = FEATURES
    chosen_by: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict) -> "ContextV":
        d = dict(d)
        if tuple(d.get("features", FEATURES)) != FEATURES:
            raise ValueError(f"adapt.context: features {d.get('features')} are not this ecgdl's {FEATURES}")
        d["features"] = FEATURES
        return cls(**d)

    def to_dict(self) -> dict:
        return {**asdict(self), "features": list(self.features)}

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - np.asarray(self.mean)) / np.asarray(self.sd)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))

    def relabel(self, sample, fs, label, p_v_ind) -> tuple[np.ndarray, np.ndarray]:
        """``(idx, p)``: the candidates turned V (p(V) >= threshold) and their p(V)."""
        idx, x = context_features(sample, fs, label, p_v_ind)
        if not len(idx):
            return idx, np.zeros(0)
        p = self.predict(x)
        keep = p >= self.threshold
        return idx[keep], p[keep]


def apply(proba: np.ndarray, classes, idx: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``proba`` with the beats ``idx`` given p(V) = ``p`` (the other classes scaled to 1 - p, their order kept)."""
    out = np.array(proba, np.float64, copy=True)
    if not len(idx):
        return out
    k = list(classes).index("V")
    rest = out[idx].copy()
    rest[:, k] = 0.0
    s = rest.sum(1, keepdims=True)
    rest = np.where(s > 0, rest / np.where(s > 0, s, 1.0), 0.0) * (1.0 - p)[:, None]
    rest[:, k] = p
    out[idx] = rest
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 200) -> tuple[list, list, list, float]:
    """``(mean, sd, weights, bias)`` of an unweighted logistic regression (torch L-BFGS, L2 ``l2``)."""
    import torch

    x = np.asarray(x, np.float64)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = torch.tensor((x - mu) / sd)
    yt = torch.tensor(np.asarray(y, np.float64))
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mu.tolist(), sd.tolist(), w.detach().tolist(), float(b.item())
