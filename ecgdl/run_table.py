"""The run table of a batch: one ``summary.csv`` row per record and the per-class reference totals.

``run_row`` flattens a record's summary into the columns documented in ``docs/outputs.md``
(counts, burdens, heart rate, runs, episodes, unusable/undetected/VF/unreadable seconds, quality,
clock start, QRS and per-class Se/+P as ``*_pct``); ``rows_csv`` writes the rows as spreadsheet-safe
CSV; ``reference_totals``/``reference_table`` sum the reference comparisons of the whole batch.
"""
from __future__ import annotations

import numpy as np

from ecgdl.metrics import percent
from ecgdl.run_folder import printable


def _span_s(s: dict, key: str) -> float:
    """Total seconds of a summary's span list (unusable, undetected, vf, unreadable)."""
    return round(sum(u["end_s"] - u["start_s"] for u in s.get(key) or []), 1)


def run_row(outcome) -> dict:
    """One ``summary.csv`` row from a record's outcome (:class:`ecgdl.batch.RecordOutcome`)."""
    from ecgdl.rhythm import event_counts

    row = {"record": outcome.stem, "status": "error" if outcome.status == "error" else "ok",
           "error": printable(outcome.error), "warnings": ""}
    if outcome.summary is None:
        return row
    row["warnings"] = "; ".join(outcome.summary.scoring.get("warnings", []))
    s = outcome.summary.to_dict()
    hr = s.get("heart_rate", {})
    row.update({"duration_s": s.get("duration_s"), "beats": s.get("beats"), **s.get("counts", {}),
                "V_burden_pct": s["ectopic_burden_pct"]["V"], "S_burden_pct": s["ectopic_burden_pct"]["S"],
                "hr_mean_bpm": hr.get("mean_bpm"), "hr_min_bpm": hr.get("min_bpm"), "hr_max_bpm": hr.get("max_bpm"),
                **event_counts(s), **episode_columns(s), "unusable_s": _span_s(s, "unusable"),
                "undetected_s": _span_s(s, "undetected"), "vf_s": _span_s(s, "vf"), "unreadable_s": _span_s(s, "unreadable"),
                "quality_median": (s.get("quality") or {}).get("median_index"),
                "start_time": _start_time(s)})
    ref = s.get("reference")
    if ref:
        row.update({"qrs_se_pct": _pct(ref["matched"], ref["reference_beats"]),
                    "qrs_ppv_pct": _pct(ref["matched"], ref["detected_beats"])})
        for c, m in ref["per_class"].items():
            row[f"{c}_se_pct"], row[f"{c}_ppv_pct"] = _pct(m["se"]), _pct(m["ppv"])
    return row


def episode_columns(s: dict) -> dict:
    """Run-table columns of a summary's episodes: AF burden (% of time) and VT episode count."""
    ep = s.get("episodes") or {}
    return {"af_burden_pct": ep.get("af_burden_pct"), "VT_episodes": (ep.get("counts") or {}).get("VT")}


def _start_time(s: dict) -> str:
    """Clock time of the record's first sample (``hh:mm:ss``, header base time), "" when the file gives none."""
    from ecgdl.clock import format_time

    clock = s.get("start_clock_s")
    return "" if clock is None else format_time(0.0, clock)


def _r(a, b):
    return round(a / b, 4) if b else None


def _pct(num, den=1):
    """A fraction as a percentage with two decimals (None stays None): the ``*_pct`` convention."""
    return None if num is None or not den else round(100 * num / den, 2)


def rows_csv(rows: list[dict]) -> str:
    """CSV of dict rows (union of keys, in first-seen order; missing cells empty)."""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(cols)]
    for row in rows:
        lines.append(",".join(_cell(row.get(c)) for c in cols))
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    """One CSV cell: text that a spreadsheet would run as a formula (``= + - @``, tab, CR first) gets a
    leading ``'``; characters that are not UTF-8 (a surrogate-escaped file name) are backslash-escaped."""
    if v is None:
        return ""
    text = str(v)
    if isinstance(v, str):
        text = printable(text)
        if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            text = "'" + text
    return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ',"\n\r') else text


def reference_totals(summaries: list, classes: tuple[str, ...]) -> dict:
    """Per-class Se/+P over all records with a reference comparison (counts summed, i.e. gross);
    summaries: :class:`ecgdl.batch.RecordSummary` objects."""
    from ecgdl.reference import per_class_table

    k = len(classes)
    cm, missed, extra = np.zeros((k, k), np.int64), np.zeros(k, np.int64), np.zeros(k, np.int64)
    used = []
    for s in summaries:
        ref = s.reference
        if not ref:
            continue
        cm += np.asarray(ref["confusion"])
        missed += np.asarray(ref["missed"])
        extra += np.asarray(ref["extra"])
        used.append(s.scoring["record"])
    n_ref, matched = int(cm.sum() + missed.sum()), int(cm.sum())
    return {"records": used, "classes": list(classes), "confusion": cm.tolist(), "missed": missed.tolist(),
            "extra": extra.tolist(), "reference_beats": n_ref, "detected_beats": int(cm.sum() + extra.sum()),
            "qrs_se": _r(matched, n_ref), "qrs_ppv": _r(matched, int(cm.sum() + extra.sum())),
            "per_class": per_class_table(cm, missed, extra, classes)}


def reference_table(ref: dict) -> str:
    """Plain-text per-class table of :func:`reference_totals`."""
    lines = [f"{len(ref['records'])} records, {ref['reference_beats']} reference beats, "
             f"{ref['detected_beats']} scored beats, QRS Se {percent(ref['qrs_se'], 2)} %, +P {percent(ref['qrs_ppv'], 2)} %",
             f"{'class':<6}{'ref':>8}{'pred':>8}{'TP':>8}{'Se %':>8}{'+P %':>8}"]
    for i, (c, m) in enumerate(ref["per_class"].items()):
        tp = ref["confusion"][i][i]
        lines.append(f"{c:<6}{m['support']:>8}{m['predicted']:>8}{tp:>8}{percent(m['se'], 2):>8}"
                     f"{percent(m['ppv'], 2):>8}")
    return "\n".join(lines)
