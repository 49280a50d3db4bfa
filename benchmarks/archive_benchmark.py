"""Archive benchmark: an archive of N recordings cut from MIT-BIH, scored by ``--engine local`` and
``--engine ray`` in one run on this machine, then queried with ``ecgdl query``.

The archive: recording ``i`` is ``--seconds`` of MIT-BIH record ``RECORDS[i % 48]`` starting at an offset
that differs for every recording of the same source record (so no two recordings are identical),
written as a new WFDB record ``a<i>_<record>`` (format 212, the source's own ADC values, no
annotations) into ``--archive`` (default ``/tmp/ecgdl-archive``; never inside the repository).

Both engines score the same archive into fresh folders with the same number of workers: the local
engine's process pool (``--workers W``) and Ray started on this machine by the run itself (W actors,
one ONNX Runtime thread each). Each engine runs in its own process; wall time covers the whole
command (Ray's start-up included). Outputs are compared byte for byte (the per-record wall time
field dropped); the query is timed as a whole ``ecgdl query`` process and checked against the
per-record JSON.

    nice python benchmarks/archive_benchmark.py --n 1000 --seconds 1800 --workers 2 \\
        --json benchmarks/results/archive.json

Ray runs its worker processes at niceness +15 (its ``worker_niceness``), the process pool's workers at the
caller's: on a machine shared with other jobs that alone makes the actors lose CPU to everything else.
The Ray run here sets ``RAY_worker_niceness=0`` so that both engines' workers run at the same priority.
``--reuse-archive`` keeps an archive already generated with the same ``--n`` and ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUESTION = ("SELECT record, V_longest_run_beats, AF_burden_pct FROM records "
            "WHERE V_longest_run_beats >= 10 OR AF_burden_pct > 10 ORDER BY record")


def make_archive(mitdb: Path, folder: Path, n: int, seconds: float) -> list[str]:
    """Write ``n`` distinct recordings (see the module docstring); returns their names."""
    import numpy as np
    import wfdb

    from ecgdl.splits import ALL_RECORDS

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(ALL_RECORDS)
    per_source = -(-n // len(sources))
    cache: dict[str, object] = {}
    names = []
    for i in range(n):
        src = sources[i % len(sources)]
        rec = cache.get(src) or cache.setdefault(src, wfdb.rdrecord(str(mitdb / src), physical=False))
        length = int(seconds * rec.fs)
        k = i // len(sources)
        span = rec.d_signal.shape[0] - length
        start = int(k * span / per_source) + 7 * k  # a different start for every copy of a source record
        name = f"a{i:04d}_{src}"
        wfdb.wrsamp(name, fs=rec.fs, units=rec.units, sig_name=rec.sig_name,
                    d_signal=np.ascontiguousarray(rec.d_signal[start:start + length]), fmt=rec.fmt,
                    adc_gain=rec.adc_gain, baseline=rec.baseline, write_dir=str(folder))
        names.append(name)
    return names


def _archive_ready(folder: Path, n: int, seconds: float) -> bool:
    try:
        made = json.loads((folder / "archive.json").read_text())
    except (OSError, ValueError):
        return False
    return made == {"n": n, "seconds": seconds} and len(list((folder / "records").glob("*.hea"))) == n


def run_engine(engine: str, archive: Path, out: Path, workers: int) -> dict:
    """Score ``archive`` into ``out`` in this process (called in a child process); returns the figures."""
    from ecgdl.batch import BatchConfig, score_batch

    cluster = None
    if engine == "ray":
        from ecgdl.engine_ray import ClusterConfig

        cluster = ClusterConfig(actors_per_node=workers, threads_per_actor=1)
    cfg = BatchConfig(out=out, device="cpu", workers=workers, progress=False, engine=engine, cluster=cluster,
                      force=True)
    t0 = time.perf_counter()
    result = score_batch([archive], cfg)
    wall = time.perf_counter() - t0
    beats = sum(o.summary.scoring["beats"] for o in result.outcomes if o.summary)
    self_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    workers_mem = ([w["peak_rss_mib"] for w in result.workers] if engine == "ray"
                   else [round(child_mib if workers > 1 else self_mib, 1)])
    return {"engine": engine, "records": len(result.outcomes), "failed": len(result.failures), "beats": beats,
            "wall_s": round(wall, 2), "records_per_s": round(len(result.outcomes) / wall, 2),
            "beats_per_s": round(beats / wall), "driver_peak_rss_mib": round(self_mib, 1),
            "worker_peak_rss_mib": workers_mem, "workers": result.workers}


def expected_answer(out: Path) -> list[str]:
    """The question answered straight from the per-record JSON files."""
    hits = []
    for p in sorted(out.glob("*.summary.json")):
        s = json.loads(p.read_text())
        vt = max((r["beats"] for r in s["events"]["V"]["runs"]), default=0)
        if vt >= 10 or (s["episodes"]["af_burden_pct"] or 0) > 10:
            hits.append(p.name.removesuffix(".summary.json"))
    return hits


def time_query(out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "ecgdl.cli", "query", str(out), QUESTION, "--format", "csv"],
                         env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    answer = [line.split(",")[0] for line in run.stdout.splitlines()[1:]]
    return {"sql": QUESTION, "wall_s": round(wall, 3), "rows": len(answer), "matches_json": answer == expected_answer(out)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mitdb", type=Path, default=REPO.parent / "shared" / "data" / "mitdb")
    ap.add_argument("--archive", type=Path, default=Path("/tmp/ecgdl-archive"))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    ap.add_argument("--reuse-archive", action="store_true", help="keep an archive made with the same --n/--seconds")
    ap.add_argument("--run-one", choices=("local", "ray"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    records, outs = a.archive / "records", {e: a.archive / f"out_{e}" for e in ("local", "ray")}
    if a.run_one:
        print(json.dumps(run_engine(a.run_one, records, outs[a.run_one], a.workers)))
        return 0
    if REPO in a.archive.resolve().parents:
        raise SystemExit("--archive must be outside the repository")
    t0 = time.perf_counter()
    if not (a.reuse_archive and _archive_ready(a.archive, a.n, a.seconds)):
        shutil.rmtree(a.archive, ignore_errors=True)
        make_archive(a.mitdb, records, a.n, a.seconds)
        (a.archive / "archive.json").write_text(json.dumps({"n": a.n, "seconds": a.seconds}))
    report = {"recordings": a.n, "seconds_each": a.seconds, "workers": a.workers, "cpus": os.cpu_count(),
              "archive_s": round(time.perf_counter() - t0, 1), "load_avg_at_start": os.getloadavg(), "engines": {}}
    for engine in ("local", "ray"):
        env = {**os.environ, "PYTHONPATH": str(REPO), **({"RAY_worker_niceness": "0"} if engine == "ray" else {})}
        run = subprocess.run([sys.executable, __file__, "--run-one", engine, "--archive", str(a.archive),
                              "--workers", str(a.workers)], env=env, capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(f"{engine} run failed:\n{run.stderr[-3000:]}")
        report["engines"][engine] = {**json.loads(run.stdout.splitlines()[-1]), "load_avg_after": os.getloadavg()}
        print(engine, report["engines"][engine], flush=True)
    loc, ray = report["engines"]["local"], report["engines"]["ray"]
    report["ray_over_local_records_per_s"] = round(ray["records_per_s"] / loc["records_per_s"], 3)
    from ecgdl.run_folder import comparable_outputs

    a_files, b_files = comparable_outputs(outs["local"]), comparable_outputs(outs["ray"])
    report["outputs_identical"] = sorted(a_files) == sorted(b_files) and all(a_files[k] == b_files[k] for k in a_files)
    report["files_compared"] = len(a_files)
    report["query"] = time_query(outs["ray"])
    print(json.dumps({k: v for k, v in report.items() if k != "engines"}, indent=1))
    if a.json:
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
