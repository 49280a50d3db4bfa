"""Markdown tables for docs/results.md from evaluated run folders (reads JSON only; trains nothing).

    python pipelines/results_tables.py --ds2 logreg mlp best_cnn cnn_dae best_lstm --noise best_cnn --val ...

Prints: the DS2 table (ours + published), the VAL table, the robustness table (``ds2_noise.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgdl.metrics import percent
from ecgdl.paths import runs_dir

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate import PUBLISHED  # noqa: E402


def _f(v) -> str:
    return "—" if v is None or v != v else f"{v:.3f}"


def metrics_table(names: list[str], file: str, with_published: bool) -> str:
    head = ("| model | acc % | macro-F1 | N Se | N +P | S Se | S +P | S F1 | V Se | V +P | V F1 | F Se | F +P |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = [head]
    for n in names:
        f = runs_dir() / n / file
        if not f.is_file():
            rows.append(f"| {n} | (not evaluated) |" + " |" * 11)
            continue
        r = json.loads(f.read_text())
        pc = r["per_class"]
        rows.append(f"| {n} | {percent(r['accuracy'])} | {_f(r['macro_f1'])} | {percent(pc['N']['se'])} | {percent(pc['N']['ppv'])} | "
                    f"{percent(pc['S']['se'])} | {percent(pc['S']['ppv'])} | {_f(pc['S']['f1'])} | {percent(pc['V']['se'])} | "
                    f"{percent(pc['V']['ppv'])} | {_f(pc['V']['f1'])} | {percent(pc['F']['se'])} | {percent(pc['F']['ppv'])} |")
    if with_published:
        for pub in PUBLISHED:
            g = lambda k: f"{pub[k]:.1f}" if k in pub else "–"  # noqa: E731
            rows.append(f"| *{pub['name']}* | {g('acc')} | – | – | – | {g('S_se')} | {g('S_ppv')} | – | {g('V_se')} | "
                        f"{g('V_ppv')} | – | – | – |")
    return "\n".join(rows) + "\n"


def val_table(names: list[str]) -> str:
    rows = ["| run | model | params | VAL macro-F1 | VAL acc % | S F1 | V F1 | best epoch / run | fit s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for n in names:
        f = runs_dir() / n / "summary.json"
        if not f.is_file():
            continue
        s = json.loads(f.read_text())
        import torch

        blob = torch.load(runs_dir() / n / "checkpoint.pt", map_location="cpu", weights_only=False)
        pc = blob["extra"]["val_metrics"]["per_class"]
        rows.append(f"| {n} | {s['model']} | {s['params']} | {_f(s['val_macro_f1'])} | {percent(s['val_accuracy'])} | "
                    f"{_f(pc['S']['f1'])} | {_f(pc['V']['f1'])} | {s.get('best_epoch', '–')} / {s.get('epochs_run', '–')} | "
                    f"{s.get('fit_seconds', float('nan')):.0f} |")
    return "\n".join(rows) + "\n"


def noise_table(name: str) -> str:
    d = json.loads((runs_dir() / name / "ds2_noise.json").read_text())
    rows = [f"| SNR dB ({d['kind']}, held-out 'eval' part) | acc % | S F1 | V F1 | S Se | S +P | V Se | V +P |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in d["rows"]:
        snr = "clean" if r["snr_db"] is None else f"{r['snr_db']:g}"
        rows.append(f"| {snr} | {percent(r['accuracy'])} | {_f(r['S_f1'])} | {_f(r['V_f1'])} | {percent(r['S_se'])} | "
                    f"{percent(r['S_ppv'])} | {percent(r['V_se'])} | {percent(r['V_ppv'])} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ds2", nargs="*", default=[])
    p.add_argument("--val", nargs="*", default=[])
    p.add_argument("--noise", nargs="*", default=[])
    a = p.parse_args(argv)
    if a.ds2:
        print("## DS2\n\n" + metrics_table(a.ds2, "ds2_metrics.json", True))
    if a.val:
        print("## VAL\n\n" + val_table(a.val))
    for n in a.noise:
        print(f"## Noise: {n}\n\n" + noise_table(n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
