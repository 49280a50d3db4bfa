"""The CNN's pooled beat embedding as a second ONNX output, ``embedding`` ``(batch, 2D)``.

The conv encoder's feature maps ``h`` ``(B, D, T')`` are pooled to ``cat([mean over T', max over T'])``
(``ecgdl.models.cnn.CNN._embed``): the vector the classifier head reads beside the RR features, and what
``pipelines/cv.py`` caches as ``emb``. The patient-adaptive step clusters it with the QRS windows
(``AdaptConfig.cluster_on = "both"``, :mod:`ecgdl.adapt_embedding`).

Two ways to get it into a graph:

* :func:`add_embedding_output`: graph surgery on an exported ONNX file (the shipped weights have no torch
  checkpoint). The TorchScript exporter folds ``cat([mean, max])`` into the head's ``Concat`` with the RR
  branch, so the tensor does not exist as one: a ``Concat`` of the two pooling nodes' outputs is added
  and made a graph output. No existing node or initializer changes: ``logits`` are computed as before.
* :class:`WithEmbedding`: a torch wrapper ``forward(beats, rr) -> (logits, embedding)`` that
  :func:`ecgdl.export.to_onnx` exports for models that have an ``embedding`` method.

>>> proto = add_embedding_output(onnx.load("ecgdl/shipped/ecgdl_cnn.onnx"))   # doctest: +SKIP
"""

from __future__ import annotations

from ecgdl.adapt_embedding import EMBEDDING_OUTPUT as EMBEDDING_NAME  # the second output's name


def add_embedding_output(model):
    """A copy of ``model`` (an ``onnx.ModelProto`` of a pooled-conv classifier) with ``embedding`` added.

    Finds the one ``ReduceMean`` / ``ReduceMax`` pair that pools the same tensor (the encoder's last
    feature maps) with ``keepdims=0``, adds ``Concat(mean, max, axis=1) -> embedding`` right after the
    later of the two and lists it as a graph output ``(batch, 2D)`` float32. Returns the model unchanged
    (a copy) when it already has the output; raises ``ValueError`` when there is not exactly one such pair.
    """
    import copy

    from onnx import TensorProto, helper

    m = copy.deepcopy(model)
    g = m.graph
    if any(o.name == EMBEDDING_NAME for o in g.output):
        return m
    nodes = list(g.node)
    pairs = [(i, j) for i, a in enumerate(nodes) if a.op_type == "ReduceMean" and _pools(a)
             for j, b in enumerate(nodes) if b.op_type == "ReduceMax" and _pools(b) and b.input[0] == a.input[0]]
    if len(pairs) != 1:
        raise ValueError(f"expected one ReduceMean/ReduceMax pair over the same tensor, found {len(pairs)}")
    i, j = pairs[0]
    concat = helper.make_node("Concat", [nodes[i].output[0], nodes[j].output[0]], [EMBEDDING_NAME], axis=1,
                              name="embedding/Concat")
    nodes.insert(max(i, j) + 1, concat)
    del g.node[:]
    g.node.extend(nodes)
    width = _pooled_channels(m, nodes[i].input[0])
    g.output.append(helper.make_tensor_value_info(EMBEDDING_NAME, TensorProto.FLOAT,
                                                  ["batch", 2 * width if width else None]))
    return m


def _pools(node) -> bool:
    """True for a Reduce node with ``keepdims=0`` and one input (the axes as an attribute, opset < 18)."""
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return len(node.input) == 1 and attrs.get("keepdims", 1) == 0 and "axes" in attrs


def _pooled_channels(model, tensor: str) -> int | None:
    """Channels (axis 1) of ``tensor`` by shape inference, or None when unknown."""
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model)
    for vi in inferred.graph.value_info:
        if vi.name == tensor:
            dims = vi.type.tensor_type.shape.dim
            return int(dims[1].dim_value) if len(dims) > 1 and dims[1].dim_value else None
    return None


def output_names(session) -> tuple[str, ...]:
    """The output names of an ONNX Runtime session."""
    return tuple(o.name for o in session.get_outputs())


def with_embedding(model):
    """``model`` wrapped so ``forward(beats, rr) -> (logits, embedding)`` when it has an ``embedding``
    method and a ``head(embedding, rr)`` (:class:`ecgdl.models.cnn.CNN`), else ``None``."""
    if not callable(getattr(model, "embedding", None)) or not callable(getattr(model, "head", None)):
        return None
    import torch

    class WithEmbedding(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, beats, rr):
            emb = self.inner.embedding(beats)  # (B, 2D): the encoder runs once
            return self.inner.head(emb, rr), emb  # (B, K) = inner(beats, rr), (B, 2D)

    return WithEmbedding(model).eval()
