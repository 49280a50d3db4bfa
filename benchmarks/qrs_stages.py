"""Where the detector's time goes: CPU seconds per stage of ``detect_r_peaks`` on the 24-h recording.

    python benchmarks/qrs_stages.py --cache /tmp/mitdb_24h.npy --repeat 3
    python benchmarks/qrs_stages.py --cache /tmp/mitdb_24h.npy --code /path/to/other/checkout

Each stage function that ``ecgdl.qrs`` calls is wrapped with a ``time.process_time`` timer (the
stages a version lacks are left out); the figures are those of the fastest of ``--repeat`` calls.
A stage that calls another (the noisy-stretch stage refines its new beats) includes it. The 24-h
signal is the one of ``benchmarks/qrs_speed.py`` (the 48 MIT-BIH records concatenated, cached).
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
STAGES = ("_feature", "select_beats", "refine_peaks", "second_lead_veto", "_bad_mask", "_redetect_noisy",
          "undetected_gaps", "_vf_where_suspect", "segment_quality")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    sys.path.insert(0, str(HERE))
    from qrs_speed import _signal, timing_args
    args = timing_args(__doc__, repeat=3).parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    import ecgdl.qrs as qrs
    from ecgdl.paths import data_dir
    x, fs = _signal("24h", (args.data or data_dir()) / "mitdb", args.cache)
    spent: dict[str, float] = defaultdict(float)

    def timed(name, f):
        def call(*a, **k):
            t = time.process_time()
            try:
                return f(*a, **k)
            finally:
                spent[name] += time.process_time() - t
        return call

    for name in STAGES:
        if hasattr(qrs, name):
            setattr(qrs, name, timed(name, getattr(qrs, name)))
    qrs.detect_r_peaks(x[: int(60 * fs)], fs)                     # warm-up (filter design caches)
    runs = []
    for _ in range(args.repeat):
        spent.clear()
        t = time.process_time()
        qrs.detect_r_peaks(x, fs)
        runs.append((time.process_time() - t, dict(spent)))
    total, stages = min(runs, key=lambda r: r[0])
    print(json.dumps({"code": str(Path(qrs.__file__).parent.parent), "repeat": args.repeat,
                      "total_cpu_s": round(total, 4), "runs_cpu_s": [round(r[0], 4) for r in runs],
                      "stages_cpu_s": {k: round(v, 4) for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
