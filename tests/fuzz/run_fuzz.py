"""The long fuzz run of issue 11 (outside the suite): N mutated uploads, outcomes counted.

    PYTHONPATH=. .venv/bin/python tests/fuzz/run_fuzz.py --cases 20000 [--seed 11] [--no-score]

Prints one JSON line: cases, outcomes per kind (``record``, ``record_error``, ``other:...``) and
``other_exceptions`` (must be 0). Exits 1 when any other exception occurred.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz_cases import make_seed, outcome, upload_cases  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-score", action="store_true", help="read only (do not score the records that read)")
    ap.add_argument("--skip", type=int, default=0,
                    help="generate but do not run the first N cases (the sequence is fixed by --seed)")
    ap.add_argument("--save", type=Path, default=None,
                    help="folder where each case with another exception is saved (its files and traceback)")
    a = ap.parse_args(argv)
    from ecgdl.infer import BeatClassifier, score_record
    from ecgdl.paths import data_dir

    clf = None if a.no_score else BeatClassifier(device="cpu", threads=1)
    scorer = None if clf is None else (lambda rec: score_record(rec, clf))
    counts: Counter[str] = Counter()
    seen = [0]
    t0 = time.perf_counter()

    @seed(a.seed)
    @settings(max_examples=a.cases, deadline=None, database=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(upload_cases(make_seed(data_dir() / "mitdb")))
    def run(files):
        seen[0] += 1
        if seen[0] <= a.skip:
            return
        result = outcome(files, scorer)
        counts[result] += 1
        if result.startswith("other:") and a.save is not None:
            _save(a.save / f"case{seen[0]}", files, scorer)
        n = sum(counts.values())
        if n % 1000 == 0:
            print(f"{n} cases, {time.perf_counter() - t0:.0f} s: {dict(counts.most_common(4))}", file=sys.stderr,
                  flush=True)

    run()
    other = sum(v for k, v in counts.items() if k.startswith("other:"))
    print(json.dumps({"cases": sum(counts.values()), "seed": a.seed, "scored": clf is not None,
                      "seconds": round(time.perf_counter() - t0, 1), "other_exceptions": other,
                      "outcomes": dict(counts.most_common())}))
    return 1 if other else 0


def _save(folder: Path, files, scorer) -> None:
    """The case's files and the traceback of reading (and scoring) them again, in ``folder``."""
    import traceback

    from ecgdl.uploads import UploadOptions, record_from_upload

    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
    try:
        rec = record_from_upload(files, UploadOptions(csv_fs=360.0))
        if scorer is not None:
            scorer(rec)
    except Exception:  # noqa: BLE001 - what we are saving
        (folder / "traceback.txt").write_text(traceback.format_exc())


if __name__ == "__main__":
    sys.exit(main())
