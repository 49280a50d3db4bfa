"""BeatClassifier over real onnxruntime and score_record on real MIT-BIH records."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest

from infer_fixtures import model_for_tests, write_excerpt

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, mitdb_dir):
    return model_for_tests(tmp_path_factory, mitdb_dir)


@pytest.fixture(scope="module")
def clf(model_path):
    from ecgdl.infer import BeatClassifier

    return BeatClassifier(model_path, device="cpu")


def _cuda_works() -> bool:
    try:
        sess = ort.InferenceSession  # noqa: F841
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def test_cuda_request_falls_back_to_cpu_and_says_so(model_path):
    from ecgdl.infer import BeatClassifier

    if _cuda_works():
        c = BeatClassifier(model_path, device="cuda")
        assert c.provider == "CUDAExecutionProvider"
        return
    with pytest.warns(RuntimeWarning, match="using CPU"):
        c = BeatClassifier(model_path, device="cuda")
    assert c.provider == "CPUExecutionProvider"
    assert c.provider == c.session.get_providers()[0]
    assert "CPU" in c.fallback
    assert c.info()["provider"] == "CPUExecutionProvider"


def test_cpu_device_is_quiet_and_cpu(model_path):
    from ecgdl.infer import BeatClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = BeatClassifier(model_path, device="cpu")
    assert c.provider == "CPUExecutionProvider" and not c.fallback


def test_unknown_device_rejected(model_path):
    from ecgdl.infer import BeatClassifier

    with pytest.raises(ValueError, match="device"):
        BeatClassifier(model_path, device="tpu")


def test_replaced_model_file_is_rejected(model_path, tmp_path):
    from ecgdl.infer import BeatClassifier

    dst = tmp_path / "m.onnx"
    shutil.copy(model_path, dst)
    meta = json.loads(model_path.with_suffix(".json").read_text())
    meta["onnx"]["sha256"] = "0" * 64
    dst.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="sha256"):
        BeatClassifier(dst, device="cpu")


@pytest.fixture(scope="module")
def beats_100(mitdb_dir):
    from ecgdl.dataset import record_beats

    return record_beats(mitdb_dir / "100")[0].subset(slice(0, 400))


@pytest.mark.parametrize("batch_size", [1, 97])
def test_predict_proba_batched_same_result(clf, beats_100, batch_size):
    from ecgdl.infer import BeatClassifier

    beats = beats_100
    small = BeatClassifier(clf.path, device="cpu", batch_size=batch_size)
    p = small.predict_proba(beats)
    assert p.shape == (len(beats), len(clf.classes)) and p.dtype == np.float32
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(p, clf.predict_proba(beats), atol=1e-6)


def test_reference_beats_path_equals_the_dataset_path(clf, mitdb_dir):
    """score_record(use_reference=True) classifies exactly the prepared dataset's beats (what evaluation uses)."""
    from ecgdl.dataset import record_beats
    from ecgdl.infer import score_record

    beats = record_beats(mitdb_dir / "213")[0]
    res = score_record(mitdb_dir / "213", clf, use_reference=True, adapt=False)  # the inductive path
    np.testing.assert_array_equal(res.sample, beats.sample)
    np.testing.assert_allclose(res.proba, clf.predict_proba(beats), atol=1e-6)
    assert res.reference["matched"] == len(beats)
    assert sum(res.reference["missed"]) == 0 and sum(res.reference["extra"]) == 0


def test_score_detected_beats_real_record(clf, mitdb_dir):
    from ecgdl.infer import score_record

    res = score_record(mitdb_dir / "100", clf)
    ref = res.reference
    assert ref["matched"] / ref["reference_beats"] > 0.99  # the QRS detector on a clean record
    assert res.conditioned.shape == (res.record.signal.shape[0], 2)
    header = res.beats_csv().splitlines()[0].split(",")
    assert header[:3] == ["sample", "time_s", "label"]
    assert [f"p_{c}" for c in clf.classes] == header[3:3 + len(clf.classes)]
    s = json.loads(res.summary_json())
    assert s["beats"] == len(res.sample) == sum(s["counts"].values())
    assert s["model"]["provider"] == "CPUExecutionProvider"
    assert 60 < s["heart_rate"]["mean_bpm"] < 90  # record 100: about 76 bpm


def test_samples_are_at_the_files_own_rate(clf, mitdb_dir, tmp_path):
    """A 250 Hz file: beats are found at 360 Hz internally but reported at 250 Hz."""
    from ecgdl.infer import score_record

    path = write_excerpt(mitdb_dir / "100", tmp_path, "r250", seconds=120.0, fs_out=250.0)
    res = score_record(path, clf)
    assert res.record.source_fs == 250.0 and res.record.fs == 360.0
    np.testing.assert_array_equal(res.source_sample, np.round(res.sample * 250 / 360).astype(np.int64))
    assert res.source_sample.max() < 120 * 250
    rows = res.beats_csv().splitlines()[1:]
    assert int(rows[5].split(",")[0]) == res.source_sample[5]
    assert res.reference["matched"] / res.reference["reference_beats"] > 0.98


@pytest.mark.parametrize("hours, n_segments", [(0.5, 1), (1.0, 1), (3.0, 6), (24.0, 48), (2.2, 4)])
def test_long_recordings_are_classified_in_30_min_segments(hours, n_segments):
    from ecgdl.beats import beat_segments

    fs = 360.0
    n = int(hours * 3600 * fs)
    peaks = np.arange(100, n, int(0.8 * fs))
    segs = beat_segments(peaks, fs, n)
    assert len(segs) == n_segments
    assert np.array_equal(np.concatenate([peaks[s] for s in segs]), peaks)  # every beat once, in order


def test_the_detector_config_comes_from_the_sidecar_and_goes_into_the_summary(model_path, mitdb_dir, tmp_path):
    """A sidecar's ``qrs`` entry drives detection; the summary says which detector config made it."""
    from ecgdl.infer import BeatClassifier, score_record
    from ecgdl.qrs_config import DEFAULT_CONFIG

    rec = write_excerpt(mitdb_dir / "100", tmp_path, "r100", seconds=60.0)
    default = score_record(rec, BeatClassifier(model_path, device="cpu"))
    assert default.summary["qrs"] == DEFAULT_CONFIG.to_dict()
    meta = json.loads(model_path.with_suffix(".json").read_text())
    strict = {**DEFAULT_CONFIG.to_dict(), "threshold": 0.9, "searchback_threshold": 0.9}
    shutil.copy(model_path, tmp_path / "strict.onnx")
    (tmp_path / "strict.json").write_text(json.dumps({**meta, "qrs": strict}))
    res = score_record(rec, BeatClassifier(tmp_path / "strict.onnx", device="cpu"))
    assert res.summary["qrs"] == strict
    assert len(res.sample) < len(default.sample)          # a threshold this high misses beats
    assert score_record(rec, BeatClassifier(model_path, device="cpu"), use_reference=True).summary["qrs"] is None
