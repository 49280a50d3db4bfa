"""Give a shipped classifier's ONNX file the second output ``embedding`` (graph surgery, no retraining).

    python pipelines/add_embedding_output.py [--name ecgdl_cnn] [--records 100 208 232]

The shipped weights have no torch checkpoint, so the output is added to the existing graph
(:func:`ecgdl.export_embedding.add_embedding_output`: a ``Concat`` of the encoder's two pooling nodes,
nothing else touched). Verified before the file is replaced: ``onnx.checker``, and on every beat of
``--records`` (real MIT-BIH records, reference beats) the new graph's ``logits`` are bit-identical to the
old graph's. The sidecar's ``onnx`` section (sha256, bytes, outputs) is rewritten; nothing else changes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from ecgdl.paths import MODELS_DIR  # noqa: E402


def record_inputs(clf, records: list[str]) -> dict[str, np.ndarray]:
    """The model inputs of every reference beat of ``records`` (``../shared/data/mitdb``), concatenated."""
    from ecgdl.beats import segment_beat_sets
    from ecgdl.infer import model_leads, read_for_model
    from ecgdl.paths import database_dir
    from ecgdl.reference import reference_beats
    from ecgdl.signal import condition_record

    parts = []
    for r in records:
        rec = read_for_model(database_dir("mitdb") / r, clf.fs)
        cond = condition_record(model_leads(rec), rec.fs, clf.conditioning)
        for _, beats in segment_beat_sets(cond, reference_beats(rec)[0], rec.fs, clf.window, r):
            parts.append(clf.inputs(beats))
    return {k: np.concatenate([p[k] for p in parts]) for k in ("beats", "rr")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="ecgdl_cnn")
    p.add_argument("--out", type=Path, default=MODELS_DIR)
    p.add_argument("--records", nargs="+", default=["100", "208", "232"])
    a = p.parse_args(argv)
    import onnx

    from ecgdl.artifacts import atomic_write, onnx_session, sha256_file
    from ecgdl.export import graph_outputs
    from ecgdl.export_embedding import EMBEDDING_NAME, add_embedding_output
    from ecgdl.infer import BeatClassifier

    path = a.out / f"{a.name}.onnx"
    clf = BeatClassifier(path, device="cpu")
    new = add_embedding_output(onnx.load(str(path)))
    onnx.checker.check_model(new, full_check=True)
    inputs = record_inputs(clf, a.records)
    with tempfile.TemporaryDirectory() as tmp:
        cand = Path(tmp) / path.name
        cand.write_bytes(new.SerializeToString())
        sess, _ = onnx_session(cand, device="cpu")  # the project's one session factory
        logits, emb = sess.run(["logits", EMBEDDING_NAME], inputs)
        old = clf.session.run(["logits"], inputs)[0]
        if not np.array_equal(logits, old):
            raise AssertionError(f"logits differ after the surgery: max |diff| {np.abs(logits - old).max()}")
        atomic_write(path, cand.read_bytes())
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text())
    meta["onnx"].update(sha256=sha256_file(path), bytes=path.stat().st_size, outputs=graph_outputs(new))
    meta["onnx"]["embedding_added"] = {"by": "pipelines/add_embedding_output.py", "records": a.records,
                                       "beats": int(len(logits)), "logits_bit_identical": True}
    atomic_write(side, json.dumps(meta, indent=1, allow_nan=False))
    print(f"{path}: output {EMBEDDING_NAME} {emb.shape[1:]} added; logits bit-identical on {len(logits)} beats of "
          f"{', '.join(a.records)}; sha256 {meta['onnx']['sha256'][:16]}..")
    return 0


if __name__ == "__main__":
    sys.exit(main())
