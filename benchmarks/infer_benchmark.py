"""Inference benchmark (issue 5): parity, ORT vs torch throughput, end-to-end `ecgdl score`, DS2 tables.

    python benchmarks/infer_benchmark.py --checkpoint runs/best_cnn/checkpoint.pt            # everything
    python benchmarks/infer_benchmark.py --only parity,throughput --checkpoint ...           # some parts

Parts (``--only``):
  parity      max |logit diff| torch vs the shipped ONNX on 1,000 DS2 beats (seeded draw), argmax agreement
  throughput  onnxruntime CPU vs torch eager CPU on the same DS2 inputs, side by side (beats/s, median)
  record      `ecgdl score` of one 30-min MIT-BIH record as a command (wall, median) and in-process
  startup     `ecgdl score` of one 30-min record vs `python -c "import scipy.signal, wfdb"`, run in turn
              (A B A B ...), wall and CPU (user + sys) ratio per pair, median over --repeats pairs
  holter      `ecgdl score` of a 24-hour two-lead WFDB record made by concatenating MIT-BIH records
              (written to ~/.cache/ecgdl/bench, never into the repo); wall time and peak RSS (/usr/bin/time -v)
  ds2         `ecgdl score` on DS2 with --use-reference-beats vs the evaluation path (torch checkpoint on
              the prepared DS2 beats + ecgdl.metrics), and with detected beats (150 ms matching)

Timings use time.perf_counter; the machine is shared, so medians of ``--repeats`` runs are quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecgdl.paths import database_dir  # noqa: E402
from ecgdl.splits import ALL_RECORDS, DS2, PACED  # noqa: E402

_SCRIPT = Path(sys.executable).parent / "ecgdl"
ECGDL = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "ecgdl.cli"]
BENCH_DIR = Path(os.environ.get("ECGDL_BENCH", Path.home() / ".cache" / "ecgdl" / "bench"))


def median_time(fn, repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ds2_inputs(blob: dict, n: int | None = None, seed: int = 0) -> dict:
    from ecgdl.export import parity_inputs

    ex = blob["extra"]
    return parity_inputs(ex["features"], ex["stats"], DS2, n or 10**9, seed)


def part_parity(a, model, blob) -> dict:
    from ecgdl.export import parity

    rep = parity(model, a.model, ds2_inputs(blob, 1000))
    print(f"[parity] shipped {a.model.name} vs torch checkpoint on {rep['n']} DS2 beats: max |logit diff| "
          f"{rep['max_abs_logit_diff']:.3g}, argmax agrees {rep['argmax_agree']}/{rep['n']}")
    return rep


def part_throughput(a, model, blob) -> dict:
    import torch

    from ecgdl.infer import BeatClassifier

    torch.set_num_threads(os.cpu_count() or 2)
    inputs = ds2_inputs(blob, a.beats)
    n = len(inputs["beats"])
    clf = BeatClassifier(a.model, device="cpu", batch_size=a.batch)
    tb, tr = torch.from_numpy(inputs["beats"]), torch.from_numpy(inputs["rr"])

    def run_torch():
        with torch.inference_mode():
            for i in range(0, n, a.batch):
                model(tb[i:i + a.batch], tr[i:i + a.batch])

    clf.logits({k: v[:a.batch] for k, v in inputs.items()})  # warm-up both
    run_torch()
    rows = {}
    for _ in range(a.repeats):  # interleaved, so both see the same machine load
        for name, fn in (("onnxruntime_cpu", lambda: clf.logits(inputs)), ("torch_eager_cpu", run_torch)):
            t0 = time.perf_counter()
            fn()
            rows.setdefault(name, []).append(time.perf_counter() - t0)
    out = {k: n / statistics.median(v) for k, v in rows.items()}
    print(f"[throughput] {n} DS2 beats, batch {a.batch}, {torch.get_num_threads()} threads: onnxruntime CPU "
          f"{out['onnxruntime_cpu']:,.0f} beats/s, torch eager CPU {out['torch_eager_cpu']:,.0f} beats/s "
          f"(x{out['onnxruntime_cpu'] / out['torch_eager_cpu']:.2f})")
    return {"beats": n, "batch": a.batch, "beats_per_s": out}


def _timed_command(cmd: list[str]) -> tuple[float, float, str, float]:
    """(wall s, peak RSS MB, stdout, CPU s = user + system) of a command (RSS and CPU via /usr/bin/time -v)."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([0-9.]+)", done.stderr))
    return wall, (int(rss.group(1)) / 1024 if rss else float("nan")), done.stdout, cpu


def score_cmd(paths, out: Path, a, *extra) -> list[str]:
    return [*ECGDL, "score", *map(str, paths), "--out", str(out), "--model", str(a.model), "--device", "cpu",
            "--force", "--quiet", *extra]


def stage_times(path: Path, model: Path) -> dict:
    """In-process seconds of each stage of the scoring path on one record (one run)."""
    from ecgdl.batch import _init_worker
    from ecgdl.beats import WindowConfig
    from ecgdl.infer import classify_beats, score_record
    from ecgdl.io import read_record
    from ecgdl.qrs import detect_r_peaks
    from ecgdl.signal import ConditioningConfig, condition_record

    clf = _init_worker(model, "cpu")              # as a scoring worker loads it (small pages included)
    out, t = {}, time.perf_counter()
    rec = read_record(path, on_gaps="fill")
    out["read"], t = time.perf_counter() - t, time.perf_counter()
    cond = condition_record(rec.signal[:, :2], rec.fs, ConditioningConfig(**clf.meta["conditioning"]))
    out["condition"], t = time.perf_counter() - t, time.perf_counter()
    peaks = detect_r_peaks(rec.signal[:, :2], rec.fs).peaks
    out["detect"], t = time.perf_counter() - t, time.perf_counter()
    classify_beats(clf, cond, peaks, rec.fs, WindowConfig(**clf.meta["window"]), rec.name)
    out["windows+features+classify"], t = time.perf_counter() - t, time.perf_counter()
    res = score_record(rec, clf, compare=False)
    res.beats_csv(), res.summary_json()
    out["score_record(whole, record in memory)+csv+json"] = time.perf_counter() - t
    return {k: round(v, 2) for k, v in out.items()}


def part_record(a) -> dict:
    from ecgdl.infer import BeatClassifier, score_record

    rec = database_dir("mitdb") / a.record
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_timed_command(score_cmd([rec], Path(tmp), a)) for _ in range(a.repeats)]
    clf = BeatClassifier(a.model, device="cpu")
    score_record(rec, clf)
    inproc = median_time(lambda: score_record(rec, clf), a.repeats)
    wall = statistics.median(r[0] for r in runs)
    print(f"[record] `ecgdl score` of MIT-BIH {a.record} (30 min): {wall:.2f} s wall (median of {a.repeats}, "
          f"process start and imports included; peak RSS {max(r[1] for r in runs):.0f} MB); "
          f"score_record in-process {inproc:.2f} s")
    stages = stage_times(rec, a.model)
    print(f"[record] stages in-process (s): {stages}")
    return {"record": a.record, "command_wall_s": wall, "in_process_s": inproc, "peak_rss_mb": max(r[1] for r in runs),
            "stages_s": stages}


def _cpu_wall(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s = user + sys of the finished child) of one command."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def part_startup(a) -> dict:
    """Whole-process start-up budget: scoring one record must cost no more than importing scipy.signal and
    wfdb alone (the two libraries the scoring path once imported)."""
    rec = database_dir("mitdb") / a.record
    yardstick = [sys.executable, "-c", "import scipy.signal, wfdb"]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = score_cmd([rec], Path(tmp), a)
        _cpu_wall(cmd), _cpu_wall(yardstick)  # warm the file cache
        pairs = [(_cpu_wall(cmd), _cpu_wall(yardstick)) for _ in range(a.repeats)]
    out = {"score_wall_s": statistics.median(p[0][0] for p in pairs),
           "imports_wall_s": statistics.median(p[1][0] for p in pairs),
           "wall_ratio": statistics.median(p[0][0] / p[1][0] for p in pairs),
           "cpu_ratio": statistics.median(p[0][1] / p[1][1] for p in pairs)}
    print(f"[startup] `ecgdl score` {a.record}: {out['score_wall_s']:.2f} s vs `import scipy.signal, wfdb` "
          f"{out['imports_wall_s']:.2f} s (medians of {a.repeats} pairs); ratio wall {out['wall_ratio']:.3f}, "
          f"CPU {out['cpu_ratio']:.3f}")
    return out


def make_holter(hours: float = 24.0) -> Path:
    """A two-lead WFDB record of ``hours`` made by concatenating MIT-BIH records (cached)."""
    import wfdb

    name = f"holter{int(hours)}h"
    path = BENCH_DIR / name
    if path.with_suffix(".hea").is_file():
        return path
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    src = database_dir("mitdb")
    order = [r for r in ALL_RECORDS if r not in PACED]
    need = int(hours * 3600 * 360)
    parts, total, i = [], 0, 0
    while total < need:
        r = wfdb.rdrecord(str(src / order[i % len(order)]), physical=False)
        parts.append(r.d_signal[:, :2].astype(np.int16))
        total += len(parts[-1])
        i += 1
    sig = np.concatenate(parts)[:need]
    wfdb.wrsamp(name, fs=360, units=["mV", "mV"], sig_name=["MLII", "V1"], d_signal=sig, fmt=["212", "212"],
                adc_gain=[200.0, 200.0], baseline=[1024, 1024], write_dir=str(BENCH_DIR))
    return path


def part_holter(a) -> dict:
    path = make_holter(24.0)
    with tempfile.TemporaryDirectory() as tmp:
        runs = [_timed_command(score_cmd([path], Path(tmp), a)) for _ in range(a.holter_repeats)]
        summary = json.loads((Path(tmp) / f"{path.name}.summary.json").read_text())
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[3] for r in runs)
    rss = max(r[1] for r in runs)
    print(f"[holter] `ecgdl score` of a 24-h two-lead record ({summary['beats']:,} beats): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (medians of {len(runs)}), peak RSS {rss:.0f} MB")
    stages = stage_times(path, a.model)
    print(f"[holter] stages in-process (s): {stages}")
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": rss, "beats": summary["beats"],
            "runs": [(r[0], r[1], r[3]) for r in runs],
            "stages_s": stages}


def evaluation_table(model, blob) -> dict:
    """The evaluation path: torch checkpoint on the prepared DS2 beats, scored with ecgdl.metrics."""
    import torch

    from ecgdl.classifier_training import predict_logits
    from ecgdl.dataset import load_beats
    from ecgdl.features import FeatureConfig, make_inputs
    from ecgdl.metrics import evaluate_predictions

    torch.set_num_threads(os.cpu_count() or 2)
    beats = load_beats(DS2)
    beats = beats.subset(beats.y >= 0)
    ex = blob["extra"]
    logits = predict_logits(model, make_inputs(beats, FeatureConfig.from_dict(ex["features"]), ex["stats"]))
    return evaluate_predictions(beats.y, logits.argmax(1))


def part_ds2(a, model, blob) -> dict:
    from ecgdl.run_table import reference_table

    src = database_dir("mitdb")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode, extra in (("reference_beats", ["--use-reference-beats"]), ("detected_beats", ["--reference"])):
            t0 = time.perf_counter()
            _timed_command(score_cmd([src / r for r in DS2], Path(tmp) / mode, a, *extra, "--workers",
                                     str(a.workers)))
            out[mode] = json.loads((Path(tmp) / mode / "reference.json").read_text())
            print(f"[ds2] `ecgdl score` DS2 with {mode.replace('_', ' ')} ({time.perf_counter() - t0:.0f} s):")
            print(reference_table(out[mode]))
    if model is not None:
        ev = evaluation_table(model, blob)
        same = ev["confusion"] == out["reference_beats"]["confusion"]
        print(f"[ds2] evaluation path (torch checkpoint, prepared DS2 beats, ecgdl.metrics): confusion "
              f"{'EQUAL to' if same else 'DIFFERS from'} `ecgdl score --use-reference-beats`")
        for c, r in ev["per_class"].items():
            mine = out["reference_beats"]["per_class"][c]
            se, ppv = (float("nan") if v is None else v for v in (mine["se"], mine["ppv"]))
            print(f"   {c}: evaluation Se {r['se']:.4f} +P {r['ppv']:.4f} | score Se {se:.4f} +P {ppv:.4f}")
        out["evaluation"] = ev
        out["equal"] = same
        saved = a.checkpoint.parent / "ds2_metrics.json"
        if saved.is_file():
            same_file = json.loads(saved.read_text())["confusion"] == out["reference_beats"]["confusion"]
            print(f"[ds2] {saved} (pipelines/evaluate.py output): confusion "
                  f"{'EQUAL to' if same_file else 'DIFFERS from'} `ecgdl score --use-reference-beats`")
            out["equal_to_saved_ds2_metrics"] = same_file
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="shipped ONNX (default: ecgdl/shipped/ecgdl_cnn.onnx)")
    p.add_argument("--checkpoint", type=Path, default=None, help="its torch checkpoint (parity, torch, ds2)")
    p.add_argument("--only", default="parity,throughput,record,holter,ds2")
    p.add_argument("--record", default="100")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--holter-repeats", type=int, default=3)
    p.add_argument("--beats", type=int, default=8192, help="DS2 beats for the throughput part")
    p.add_argument("--batch", type=int, default=256, help="batch for both engines (BeatClassifier's CPU default)")
    p.add_argument("--workers", type=int, default=1, help="workers for the DS2 scoring runs")
    p.add_argument("--json", type=Path, default=None, help="write all figures here")
    a = p.parse_args(argv)
    from ecgdl.infer import default_model_path

    a.model = (a.model or default_model_path()).resolve()
    parts = a.only.split(",")
    model = blob = None
    if a.checkpoint:
        from ecgdl.train import load_checkpoint

        model, blob = load_checkpoint(a.checkpoint)
    results = {"model": str(a.model), "checkpoint": str(a.checkpoint), "cpu_count": os.cpu_count()}
    print(f"model {a.model}, checkpoint {a.checkpoint}, {os.cpu_count()} CPUs")
    for part in parts:
        if part in ("parity", "throughput") and model is None:
            print(f"[{part}] skipped: needs --checkpoint")
            continue
        fn = {"parity": part_parity, "throughput": part_throughput, "ds2": part_ds2}.get(part)
        results[part] = fn(a, model, blob) if fn else {"record": part_record, "holter": part_holter,
                                                                 "startup": part_startup}[part](a)
    if a.json:
        a.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
