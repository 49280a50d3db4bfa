"""Markdown tables of the prepared beat dataset (AAMI counts per split, from its manifest)."""

from __future__ import annotations

from ecgdl.labels import AAMI_CLASSES
from ecgdl.splits import DS1, DS2, PACED


def count_table(manifest: dict) -> str:
    """Markdown table of AAMI beat counts for DS1, DS2 and the paced records from a dataset manifest."""
    rows = ["| set | records | " + " | ".join(AAMI_CLASSES) + " | total | edge beats |",
            "|---" * (len(AAMI_CLASSES) + 4) + "|"]
    for label, names in (("DS1", DS1), ("DS2", DS2), ("paced (excluded)", PACED)):
        recs = [manifest["records"][n] for n in names if n in manifest["records"]]
        c = {k: sum(r["counts"][k] for r in recs) for k in AAMI_CLASSES}
        edge = sum(r["edge_beats"] for r in recs)
        rows.append(f"| {label} | {len(recs)} | " + " | ".join(f"{c[k]:,}" for k in AAMI_CLASSES)
                    + f" | {sum(c.values()):,} | {edge} |")
    return "\n".join(rows)
