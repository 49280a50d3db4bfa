"""GPU figures for issue 5: CUDA provider active, classification beats/s at batch 4,096, 24-hour end to end.

    python gpu/infer_gpu.py --prepare     # here, once: writes gpu/data/infer_records.npz (~10 MB, MIT-BIH)
    python gpu/infer_gpu.py               # on the GPU machine (< 90 s); PYTHONPATH=/tmp/site:<repo>

Self-contained on the GPU machine: numpy, scipy and onnxruntime-gpu (no wfdb, no torch needed);
the shipped model ``ecgdl/shipped/ecgdl_cnn.onnx`` + sidecar, and the records from the npz. The 24-hour
two-lead recording is synthesised by tiling the stored 30-minute MIT-BIH records.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "gpu" / "data" / "infer_records.npz"
RECORDS = ("100", "119", "208", "213", "233")
FS = 360.0


def prepare() -> None:
    """Store the records' digital samples (int16) with gain and baseline, from the local MIT-BIH folder."""
    import wfdb

    from ecgdl.paths import database_dir

    arrays = {}
    for r in RECORDS:
        rec = wfdb.rdrecord(str(database_dir("mitdb") / r), physical=False)
        arrays[f"{r}_d"] = rec.d_signal[:, :2].astype(np.int16)
        arrays[f"{r}_gain"] = np.asarray(rec.adc_gain[:2], np.float32)
        arrays[f"{r}_base"] = np.asarray(rec.baseline[:2], np.float32)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(DATA, **arrays)
    print(f"wrote {DATA} ({DATA.stat().st_size / 2**20:.1f} MiB)")


def holter_record(hours: float = 24.0):
    """A 24-hour two-lead ``Record`` (MLII, V1) tiled from the stored records, float32 mV at 360 Hz."""
    from ecgdl.io import Record

    z = np.load(DATA)
    parts = [(z[f"{r}_d"].astype(np.float32) - z[f"{r}_base"]) / z[f"{r}_gain"] for r in RECORDS]
    need = int(hours * 3600 * FS)
    reps = int(np.ceil(need / sum(len(p) for p in parts)))
    sig = np.concatenate(parts * reps)[:need]
    return Record(name="holter24h", signal=np.ascontiguousarray(sig, np.float32), fs=FS, leads=("MLII", "V1"),
                  source_fs=FS)


def throughput(clf, inputs: dict, batch: int, iters: int = 30) -> dict:
    """beats/s at ``batch``: session.run with host arrays, and with device-resident I/O (IOBinding)."""
    import onnxruntime as ort

    feed = {k: np.ascontiguousarray(np.resize(v, (batch, *v.shape[1:]))) for k, v in inputs.items()}
    sess = clf.session
    for _ in range(5):
        sess.run(["logits"], feed)
    host = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run(["logits"], feed)
        host.append(time.perf_counter() - t0)
    binding = sess.io_binding()
    for k, v in feed.items():
        binding.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v, "cuda", 0))
    binding.bind_output("logits", "cuda", 0)
    for _ in range(5):
        sess.run_with_iobinding(binding)
    dev = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run_with_iobinding(binding)
        binding.synchronize_outputs()
        dev.append(time.perf_counter() - t0)
    return {"host_io": batch / statistics.median(host), "device_io": batch / statistics.median(dev)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--prepare", action="store_true")
    p.add_argument("--model", type=Path, default=ROOT / "ecgdl" / "shipped" / "ecgdl_cnn.onnx")
    p.add_argument("--hours", type=float, default=24.0, help="length of the tiled recording")
    a = p.parse_args(argv)
    if a.prepare:
        prepare()
        return 0
    import onnxruntime as ort

    from ecgdl.infer import BeatClassifier, classify_beats, score_record
    from ecgdl.signal import ConditioningConfig, condition_record

    print(f"onnxruntime {ort.__version__}, available providers {ort.get_available_providers()}")
    t0 = time.perf_counter()
    clf = BeatClassifier(a.model, device="cuda")
    print(f"model {clf.name}: ACTIVE provider {clf.provider} (session.get_providers() = {clf.session.get_providers()})"
          f"{'; fallback: ' + clf.fallback if clf.fallback else ''} [{time.perf_counter() - t0:.1f} s]")
    try:
        import subprocess

        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20).stdout.strip()
        print(f"GPU: {gpu}")
    except Exception as exc:  # noqa: BLE001
        print(f"GPU: nvidia-smi not available ({exc})")
    t0 = time.perf_counter()
    rec = holter_record(a.hours)
    print(f"{a.hours:g}-h two-lead record tiled from MIT-BIH {', '.join(RECORDS)}: {time.perf_counter() - t0:.1f} s")
    # real beat inputs for the throughput figure: the first 30 minutes
    from ecgdl.beats import WindowConfig, make_beats
    from ecgdl.qrs import detect_r_peaks

    head = rec.signal[: int(1800 * FS)]
    cond = condition_record(head, FS, ConditioningConfig(**clf.meta["conditioning"]))
    beats = make_beats(cond, detect_r_peaks(head, FS).peaks, FS, record="x", cfg=WindowConfig(**clf.meta["window"]))
    inputs = clf.inputs(beats)
    if clf.provider == "CUDAExecutionProvider":
        for batch in (4096, 16384):
            r = throughput(clf, inputs, batch)
            print(f"{clf.name} classification at batch {batch}: {r['device_io']:,.0f} beats/s with inputs on the "
                  f"GPU, {r['host_io']:,.0f} beats/s with host numpy in/out")
        lstm = a.model.with_name("ecgdl_lstm.onnx")
        if lstm.is_file():
            other = BeatClassifier(lstm, device="cuda")
            r = throughput(other, other.inputs(beats), 4096)
            print(f"{other.name} ({other.provider}) classification at batch 4096: {r['device_io']:,.0f} beats/s "
                  f"(inputs on the GPU), {r['host_io']:,.0f} beats/s (host in/out)")
    times = []
    for i in range(2):
        t0 = time.perf_counter()
        res = score_record(rec, clf, compare=False)
        times.append(time.perf_counter() - t0)
        print(f"{a.hours:g}-h end to end (score_record on the in-memory two-lead record, run {i + 1}): "
              f"{times[-1]:.1f} s, {len(res.sample):,} beats, provider {res.summary['model']['provider']}")
    t0 = time.perf_counter()
    proba, _ = classify_beats(clf, res.conditioned, res.sample, FS, WindowConfig(**clf.meta["window"]), rec.name)
    print(f"  of which windows + features + classification of the {len(proba):,} beats: "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
