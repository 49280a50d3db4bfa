"""The Node.js example (onnxruntime-node) reproduces the Python probabilities of real beats."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from ecgdl.paths import REPO_ROOT
from infer_fixtures import model_for_tests

NODE_DIR = REPO_ROOT / "examples" / "node"


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "onnxruntime-node").is_dir():
        pytest.skip("run `npm install --ignore-scripts` in examples/node first (make test does it)")
    return exe


def test_node_reproduces_python_probabilities(node, tmp_path_factory, mitdb_dir, tmp_path):
    from ecgdl.dataset import record_beats
    from ecgdl.infer import BeatClassifier, softmax

    model = model_for_tests(tmp_path_factory, mitdb_dir)
    clf = BeatClassifier(model, device="cpu")
    beats = record_beats(mitdb_dir / "208")[0]
    inputs = clf.inputs(beats)
    pick = np.r_[np.flatnonzero(beats.y == 0)[:3], np.flatnonzero(beats.y == 2)[:3], np.flatnonzero(beats.y == 3)[:2]]
    few = {k: v[pick] for k, v in inputs.items()}
    proba = softmax(clf.logits(few))
    saved = tmp_path / "beats.json"
    saved.write_text(json.dumps({k: {"dims": list(v.shape), "data": v.ravel().tolist()} for k, v in few.items()}))
    done = subprocess.run([node, str(NODE_DIR / "score_beats.mjs"), str(model), str(saved)], capture_output=True,
                          text=True, timeout=60, cwd=NODE_DIR)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["classes"] == list(clf.classes)
    np.testing.assert_allclose(np.array(got["proba"]), proba, atol=1e-5)
    assert got["label"] == [clf.classes[i] for i in proba.argmax(1)]
