"""What the adaptive step's k-means clusters (``AdaptConfig.cluster_on``): the QRS windows, or the QRS
windows and the classifier's pooled embedding side by side.

``"qrs"``: :func:`ecgdl.adapt_features.qrs_vectors` alone (both leads around R, pooled to ~90 Hz, gain-free).
``"both"``: :func:`joint_vectors` of those and the embedding (the ONNX output ``embedding``,
:mod:`ecgdl.export_embedding`; in the CV, ``pipelines/cv.py``'s cached ``emb`` of the fold model): each
block centred on the record's (segment's) mean and scaled to unit median row norm, so each weighs about
the same whatever its width (36 QRS values, 64 embedding values for the shipped CNN). The embedding
separates what the QRS window alone can merge (record 200's ventricular beats inside the dominant N
cluster, docs/results.md round 7). Deterministic: numpy only, no random draw.

>>> v = joint_vectors(qrs_vectors(x, 360.0, 90, cfg), emb)   # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

#: The classifier's ONNX output holding the pooled embedding (optional: older files have ``logits`` only).
EMBEDDING_OUTPUT = "embedding"
#: The settings of ``AdaptConfig.cluster_on``.
CLUSTER_ON: tuple[str, ...] = ("qrs", "both")


def unit_block(v: np.ndarray) -> np.ndarray:
    """``(n, d)`` float64: ``v`` minus its column means, divided by the median row norm (at least 1e-6)."""
    v = np.asarray(v, np.float64)
    v = v - v.mean(0)
    return v / max(float(np.median(np.linalg.norm(v, axis=1))), 1e-6)


def joint_vectors(qrs: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """``(n, d_qrs + d_emb)`` float32: :func:`unit_block` of the QRS vectors and of the embedding, side by side.

    qrs: ``(n, d_qrs)`` from :func:`ecgdl.adapt_features.qrs_vectors`; embedding: ``(n, d_emb)``, the same beats in order.
    """
    if len(qrs) != len(embedding):
        raise ValueError(f"{len(qrs)} QRS vectors but {len(embedding)} embeddings")
    if len(qrs) == 0:
        return np.zeros((0, qrs.shape[1] + embedding.shape[1]), np.float32)
    return np.concatenate([unit_block(qrs), unit_block(embedding)], 1).astype(np.float32)
