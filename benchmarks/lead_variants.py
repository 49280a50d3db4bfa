"""Write a copy of WFDB records as an unknown recorder might deliver them: leads renamed ECG1/ECG2,
optionally swapped, inverted, or one lead alone (for ``ecgdl score`` and the lead-choice figures).

    python benchmarks/lead_variants.py SRC DST [--swap] [--invert] [--only 0|1] RECORD...

``--only 1`` keeps the file's second lead alone (MIT-BIH: the precordial lead, V1/V5), named ``ECG1``.
Annotations are copied unchanged. Nothing is written into the repository: DST is a folder you name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def variant_signal(x: np.ndarray, *, swap: bool = False, invert: bool = False, only: int | None = None) -> np.ndarray:
    """``(n, k)`` signal rewritten: one lead alone (``only``), else leads reversed (``swap``); negated (``invert``)."""
    x = x[:, [only]] if only is not None else (x[:, ::-1] if swap else x)
    return -x if invert else x


def write_variant(src: Path, dst: Path, record: str, **kind) -> None:
    """``src/record`` (WFDB + .atr) -> ``dst/record`` with :func:`variant_signal` applied, leads ECG1..."""
    import wfdb

    rec = wfdb.rdrecord(str(src / record))
    ann = wfdb.rdann(str(src / record), "atr")
    x = np.ascontiguousarray(variant_signal(rec.p_signal, **kind))
    n = x.shape[1]
    wfdb.wrsamp(record, fs=rec.fs, units=["mV"] * n, sig_name=[f"ECG{i + 1}" for i in range(n)], p_signal=x,
                fmt=["16"] * n, adc_gain=[200.0] * n, baseline=[0] * n, write_dir=str(dst))
    wfdb.wrann(record, "atr", ann.sample, np.array(ann.symbol), subtype=ann.subtype, chan=ann.chan, num=ann.num,
               aux_note=ann.aux_note, fs=rec.fs, write_dir=str(dst))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("records", nargs="+")
    ap.add_argument("--swap", action="store_true")
    ap.add_argument("--invert", action="store_true")
    ap.add_argument("--only", type=int, choices=(0, 1), default=None)
    a = ap.parse_args(argv)
    a.dst.mkdir(parents=True, exist_ok=True)
    for r in a.records:
        write_variant(a.src, a.dst, r, swap=a.swap, invert=a.invert, only=a.only)
    (a.dst / "RECORDS").write_text("\n".join(a.records) + "\n")
    print(f"{len(a.records)} records -> {a.dst} (swap={a.swap}, invert={a.invert}, only={a.only})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
