"""Cost of the episodes + HRV step inside ``score_record`` (issue 13), in-process, side by side.

    python benchmarks/episodes_benchmark.py [--records 101 203 207 208 223] [--repeats 5] [--holter PATH]

For each record: the median wall time of ``score_record`` (every step, episodes included) and of the
episodes step alone (``ecgdl.episodes.score_episodes`` on the same scored beats), and their ratio:
``step / (score_record - step)`` is how much slower scoring got. ``--holter`` adds a 24-hour record
(``benchmarks/infer_benchmark.py`` writes one under ``~/.cache/ecgdl/bench``). The machine is shared,
so medians of ``--repeats`` runs are quoted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecgdl.episodes import score_episodes  # noqa: E402
from ecgdl.infer import BeatClassifier, score_record  # noqa: E402
from ecgdl.paths import database_dir  # noqa: E402
from infer_benchmark import median_time  # noqa: E402  (benchmarks/ is on sys.path as the script's folder)


def measure(path: Path, clf: BeatClassifier, repeats: int) -> dict:
    res = score_record(path, clf, compare=False)
    full = median_time(lambda: score_record(path, clf, compare=False), repeats)
    step = median_time(lambda: score_episodes(res.sample, res.label, res.record.fs, proba=res.proba,
                                              classes=clf.classes, signal=res.conditioned[:, 0],
                                              pauses=res.summary["pauses"], vf=res.summary.get("vf", ()),
                                              duration_s=res.record.duration_s, p_v_ind=res.p_v_inductive,
                                              qrs_signal=res.conditioned), repeats)
    return {"record": path.name, "minutes": res.record.duration_s / 60, "beats": len(res.sample),
            "score_s": full, "episodes_s": step, "slower_pct": 100 * step / (full - step)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", nargs="+", default=["101", "203", "207", "208", "223"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--holter", type=Path, default=None)
    a = p.parse_args(argv)
    clf = BeatClassifier(device="cpu")
    paths = [database_dir("mitdb") / r for r in a.records] + ([a.holter] if a.holter else [])
    print(f"{'record':<12}{'min':>7}{'beats':>8}{'score s':>10}{'episodes s':>12}{'slower %':>10}")
    for path in paths:
        m = measure(path, clf, a.repeats if path != a.holter else max(1, a.repeats // 2))
        print(f"{m['record']:<12}{m['minutes']:>7.1f}{m['beats']:>8}{m['score_s']:>10.3f}{m['episodes_s']:>12.3f}"
              f"{m['slower_pct']:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
