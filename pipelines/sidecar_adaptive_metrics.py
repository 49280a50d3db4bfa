"""Write the patient-adaptive scoring's DS2 figures into the shipped sidecar (``metrics.ds2_adaptive``).

    ecgdl score <the 22 DS2 records> --out OUT --reference        # default: adaptive step on
    python pipelines/sidecar_adaptive_metrics.py OUT [--sidecar ecgdl/shipped/ecgdl_cnn.json]

The per-class counts of each DS2 record's reference comparison (own R-peaks, 150 ms) are summed, as
``reference.json`` does; the viewer's class tiles and the PDF show these figures for an adapted record
(``ecgdl.clinical_report.validated_metrics``). Refuses an out folder that is not exactly DS2 scored adaptively.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecgdl.artifacts import atomic_write, strict_json  # noqa: E402
from ecgdl.reference import per_class_table  # noqa: E402
from ecgdl.splits import DS2  # noqa: E402


def adaptive_ds2(out: Path) -> dict:
    """``{"per_class", "accuracy", "n", "records", "source"}`` summed over the DS2 summaries in ``out``."""
    cm = missed = extra = None
    classes, used = None, []
    for rec in sorted(DS2):
        s = json.loads((out / f"{rec}.summary.json").read_text())
        if not (s.get("adapt") or {}).get("applied") or not s.get("reference"):
            raise SystemExit(f"{out}/{rec}: not scored with the adaptive step and --reference")
        ref = s["reference"]
        classes = classes or list(ref["per_class"])
        c, m, e = (np.asarray(ref[k], np.int64) for k in ("confusion", "missed", "extra"))
        cm, missed, extra = (c, m, e) if cm is None else (cm + c, missed + m, extra + e)
        used.append(rec)
    return {"per_class": per_class_table(cm, missed, extra, tuple(classes)), "classes": classes,
            "accuracy": float(np.trace(cm) / cm.sum()), "n": int(cm.sum() + missed.sum()), "records": used,
            "source": "ecgdl score (own R-peaks, adaptive step, 150 ms), summed reference comparisons"}


def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--sidecar", type=Path, default=ROOT / "ecgdl" / "shipped" / "ecgdl_cnn.json")
    a = p.parse_args(argv)
    meta = json.loads(a.sidecar.read_text())
    meta.setdefault("metrics", {})["ds2_adaptive"] = strict_json(adaptive_ds2(a.out))
    atomic_write(a.sidecar, json.dumps(meta, indent=1, allow_nan=False))
    m = meta["metrics"]["ds2_adaptive"]
    print(f"ds2_adaptive: {len(m['records'])} records, accuracy {m['accuracy']:.4f}; "
          + ", ".join(f"{c} Se {v['se']:.3f} +P {v['ppv'] if v['ppv'] is None else round(v['ppv'], 3)}"
                      for c, v in m["per_class"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
