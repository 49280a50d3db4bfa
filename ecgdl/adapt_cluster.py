"""Morphology clustering of one record's beats (the adaptive step's first stage, :mod:`ecgdl.adapt`).

:func:`kmeans` (k-means++ then Lloyd, deterministic for a seed) is what ships: one draw per record (segment).
``AdaptConfig.consensus`` (measured, not shipped: docs/episodes.md rounds 21-23) clusters on the consensus of
several draws instead (:func:`partition`), and ``AdaptConfig.soft`` reads the cluster statistics
(:func:`cluster_stats`) as means over the draws.

**Consensus partition** (:func:`consensus_partition`). One k-means run is one draw: with another seed, or two beats fewer, a record's clusters re-form and the adaptive
labels built on them move (``benchmarks/adapt_stability.py``). Averaging the adaptive step's *probabilities* over
draws softens the small V clusters' decisions (docs/episodes.md, run 27). The consensus here keeps hard clusters
and only replaces the partition, the evidence-accumulation way (Fred & Jain 2005, "Combining multiple clusterings
using evidence accumulation", IEEE TPAMI 27:835; Strehl & Ghosh 2002):

1. beats with the same label in every draw form an **atom** (a few hundred per 30-min record);
2. the **co-association** of two atoms is the share of draws that put them in one cluster;
3. atoms are merged by **average linkage** on it, every beat weighing one (the linkage of two groups is the mean
   co-association over their pairs of beats), until ``k`` groups are left. Atoms are ordered by their first beat
   and ties go to the first pair, so the partition is a function of the draws, whatever ids they use.

Plain numpy; a merge updates one row of the group similarity matrix (O(m) per merge, O(m^2) per argmax).

>>> import numpy as np
>>> draws = np.array([[0, 0, 1], [0, 0, 1], [1, 2, 2], [1, 2, 0]])  # beats x draws
>>> consensus_partition(draws, 2).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import numpy as np

# ``cfg`` below is an :class:`ecgdl.adapt.AdaptConfig` (read for n_clusters, seed, iters, n_init, consensus, soft); it is
# not imported here, as ecgdl.adapt imports this module.
_EPS = 1e-6


def _sq_dist(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``(n, k)`` squared distances, one centroid at a time (no BLAS threads: steady on a busy machine)."""
    out = np.empty((len(v), len(c)), np.float32)
    for j in range(len(c)):
        d = v - c[j]
        out[:, j] = np.einsum("ij,ij->i", d, d)
    return out


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` in row blocks small enough (rows x b.size <= 2**18) that OpenBLAS runs each on the calling
    thread: its worker threads, woken for a larger product, fight ONNX Runtime's spinning threads (a 2,947-beat
    record's stacker product took 12 ms instead of 0.4 ms right after inference)."""
    rows = max(1, (1 << 18) // max(b.size, 1))
    if len(a) <= rows:
        return a @ b
    return np.concatenate([a[i:i + rows] @ b for i in range(0, len(a), rows)])


def _nearest(v64: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Index of each row's nearest centroid: argmin of ``|c|^2 - 2 v.c`` in float64 (one small matmul;
    ``|v|^2`` is the same for every centroid of a row)."""
    c64 = c.astype(np.float64)
    return ((c64 * c64).sum(1) - 2.0 * _matmul(v64, c64.T)).argmin(1)


def _cluster_sums(v64: np.ndarray, lab: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sums (k, d), counts (k,))`` of the rows of each cluster, each sum taken in row order."""
    counts = np.bincount(lab, minlength=k)
    order = np.argsort(lab, kind="stable")
    sums = np.zeros((k, v64.shape[1]))
    nz = counts > 0
    sums[nz] = np.add.reduceat(v64[order], (np.cumsum(counts) - counts)[nz], axis=0)
    return sums, counts


def kmeans(v: np.ndarray, k: int, seed: int, iters: int, n_init: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (n,), centroids (k', d))``: k-means++ then Lloyd, deterministic for a seed; k' <= k. ``n_init`` > 1:
    that many initialisations (seeds ``seed .. seed + n_init - 1``), the one of lowest inertia kept."""
    if n_init > 1:
        runs = [kmeans(v, k, seed + i, iters) for i in range(n_init)]
        v64 = v.astype(np.float64)
        inertia = [float(((v64 - c.astype(np.float64)[lab]) ** 2).sum()) for lab, c in runs]
        return runs[int(np.argmin(inertia))]
    n, k = len(v), min(k, len(v))
    if k <= 1:
        return np.zeros(n, np.int64), v.mean(0, keepdims=True) if n else np.zeros((0, v.shape[1]), v.dtype)
    rng = np.random.default_rng(seed)
    cent = [v[rng.integers(n)]]
    d2 = _sq_dist(v, cent[0][None])[:, 0]
    for _ in range(1, k):
        if d2.sum() <= _EPS:
            break
        cent.append(v[rng.choice(n, p=d2 / d2.sum())])
        d2 = np.minimum(d2, _sq_dist(v, cent[-1][None])[:, 0])
    c = np.stack(cent)
    v64 = v.astype(np.float64)
    lab = _nearest(v64, c)
    for _ in range(iters):
        sums, counts = _cluster_sums(v64, lab, len(c))
        keep = counts > 0
        c = (sums[keep] / counts[keep, None]).astype(v.dtype)
        new = _nearest(v64, c)
        if keep.all() and np.array_equal(new, lab):
            break
        lab = new
    return lab, c


def draws_of(v: np.ndarray, cfg: AdaptConfig) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The ``cfg.consensus`` k-means runs (seeds ``cfg.seed ..``) of the beats' vectors ``v``, ``(labels, centroids)``
    each; ``None`` when the step clusters once (``consensus`` 1, or fewer than two beats)."""
    if cfg.consensus <= 1 or len(v) <= 1:
        return None
    return [kmeans(v, cfg.n_clusters, cfg.seed + i, cfg.iters, cfg.n_init) for i in range(cfg.consensus)]


def averaging_ids(cid: np.ndarray, draws: list[tuple[np.ndarray, np.ndarray]] | None, cfg: AdaptConfig) -> np.ndarray:
    """What :func:`ecgdl.adapt.cluster_average` averages over: the draws' labels ``(n, d)`` with ``cfg.soft``, else ``cid``."""
    return np.stack([d[0] for d in draws], 1) if cfg.soft and draws else cid


def partition(v: np.ndarray, cfg: AdaptConfig,
              draws: list[tuple[np.ndarray, np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (n,), centroids (k', d))`` of the beats' vectors ``v``: one k-means run (:func:`kmeans`), or with
    ``cfg.consensus`` > 1 the consensus of that many draws (:func:`consensus_partition`),
    each group's centroid its mean vector. ``draws``: :func:`draws_of`, when the caller already ran them."""
    draws = draws_of(v, cfg) if draws is None else draws
    if draws is None:
        return kmeans(v, cfg.n_clusters, cfg.seed, cfg.iters, cfg.n_init)
    lab = consensus_partition(np.stack([d[0] for d in draws], 1), cfg.n_clusters)
    sums, counts = _cluster_sums(v.astype(np.float64), lab, int(lab.max()) + 1)
    return lab, (sums / counts[:, None]).astype(v.dtype)


def cluster_stats(v: np.ndarray, lab: np.ndarray, cent: np.ndarray,
                   proba: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per beat, under one partition: its cluster's mean probabilities ``(n, K)``, its cluster's share of the beats,
    ``log(d_dom / d_ref + 0.05)`` (QRS distance to the dominant cluster's centroid, relative), in the dominant cluster."""
    n, k = len(v), len(cent)
    counts = np.bincount(lab, minlength=k).astype(np.float64)
    csum = np.stack([np.bincount(lab, weights=proba[:, j], minlength=k) for j in range(proba.shape[1])], 1)
    dom = int(np.argmax(csum[:, 0] + csum[:, 1]))
    d_dom = np.sqrt(_sq_dist(v, cent[dom][None])[:, 0])
    d_ref = np.median(d_dom[lab == dom]) + 0.05
    return (csum / np.maximum(counts, 1)[:, None])[lab], counts[lab] / n, np.log(d_dom / d_ref + 0.05), lab == dom


def consensus_partition(draws: np.ndarray, k: int) -> np.ndarray:
    """Group id (0 .. k'-1, k' = min(k, atoms)) of each beat from ``draws`` ``(n, d)``: each column one
    clustering's labels. Groups are numbered by their first beat."""
    draws = np.asarray(draws)
    n = len(draws)
    if n == 0:
        return np.zeros(0, np.int64)
    atoms, first, atom_of = np.unique(draws, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # atoms in the order of their first beat: the ids the draws use do not matter
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    atoms, atom_of = atoms[order], rank[atom_of.reshape(-1)]
    m = len(atoms)
    group = np.arange(m)
    if m > k:
        w = np.bincount(atom_of, minlength=m).astype(np.float64)
        co = np.zeros((m, m))
        for j in range(draws.shape[1]):
            co += atoms[:, j][:, None] == atoms[:, j][None, :]
        tot = co / draws.shape[1] * w[:, None] * w[None, :]  # summed co-association over the pairs of beats
        size, alive = w.copy(), np.ones(m, bool)
        sim = tot / (size[:, None] * size[None, :])
        np.fill_diagonal(sim, -np.inf)
        for _ in range(m - k):
            a, b = divmod(int(np.argmax(sim)), m)
            a, b = min(a, b), max(a, b)
            tot[a] += tot[b]
            tot[:, a] = tot[a]
            size[a] += size[b]
            group[group == b] = a
            alive[b] = False
            sim[a] = np.where(alive, tot[a] / (size[a] * size), -np.inf)
            sim[:, a] = sim[a]
            sim[a, a] = -np.inf
            sim[b, :] = -np.inf
            sim[:, b] = -np.inf
    lab = group[atom_of]
    _, first = np.unique(lab, return_index=True)
    rank = np.empty(lab.max() + 1, np.int64)
    rank[lab[np.sort(first)]] = np.arange(len(first))
    return rank[lab]
