"""Consensus partition of several clusterings of one record's beats (:attr:`ecgdl.adapt.AdaptConfig.consensus`).

One k-means run is one draw: with another seed, or two beats fewer, a record's clusters re-form and the adaptive
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
