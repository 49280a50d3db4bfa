"""The ``ecgdl`` command: thin shells over the library (``main(argv) -> exit code``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_prepare(a: argparse.Namespace) -> int:
    """Build the MIT-BIH beat dataset cache and print the AAMI counts per split."""
    from ecgdl.dataset import prepare
    from ecgdl.paths import database_dir
    from ecgdl.report import count_table
    from ecgdl.splits import ALL_RECORDS

    data = a.data or database_dir("mitdb", download=True)
    manifest = prepare(ALL_RECORDS, data, cache=a.cache, workers=a.workers, progress=not a.quiet, force=a.force)
    print("cache is current (nothing rebuilt)" if manifest["up_to_date"] else "cache rebuilt")
    print(count_table(manifest))
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    """Score records, folders or globs into --out: per-record beats + summary, a run table; resumable."""
    from ecgdl.batch import BatchConfig, reference_table, score_batch

    cfg = BatchConfig(out=a.out, model=a.model, device=a.device, workers=a.workers, format=a.format, force=a.force,
                      reference=a.reference or a.use_reference_beats, use_reference_beats=a.use_reference_beats,
                      progress=not a.quiet)
    try:
        result = score_batch(a.paths, cfg)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ok = sum(r["status"] == "ok" for r in result.rows)
    skipped = sum(r["status"] == "skipped" for r in result.rows)
    print(f"{ok} scored, {skipped} already done, {len(result.failures)} failed -> {a.out} "
          f"(provider {result.provider})")
    if result.reference is not None:
        print(reference_table(result.reference))
    for path, err in result.failures:
        print(f"FAILED {path}: {err}", file=sys.stderr)
    return 1 if result.failures else 0


DEMO_RECORD = "200"


def cmd_demo(a: argparse.Namespace) -> int:
    """Score a default MIT-BIH record with the shipped model and print its rhythm summary."""
    from ecgdl.batch import BatchConfig, score_batch
    from ecgdl.paths import database_dir
    from ecgdl.rhythm import describe

    folder = database_dir("mitdb")
    if not (folder / f"{DEMO_RECORD}.hea").is_file():
        import wfdb

        print(f"downloading MIT-BIH record {DEMO_RECORD} from PhysioNet into {folder} ...")
        folder.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database("mitdb", dl_dir=str(folder), records=[DEMO_RECORD])
    result = score_batch([folder / DEMO_RECORD], BatchConfig(out=a.out, reference=True, progress=False,
                                                             force=True))
    if result.failures:
        print(f"FAILED {result.failures[0][0]}: {result.failures[0][1]}", file=sys.stderr)
        return 1
    summary = result.outcomes[0].summary.to_dict()
    print(describe(summary))
    ref = summary.get("reference")
    if ref:
        print(f"Against the cardiologists' annotations (150 ms): QRS Se {ref['matched'] / ref['reference_beats']:.4f}; "
              + ", ".join(f"{c} Se {m['se']:.3f} +P {m['ppv']:.3f}" for c, m in ref["per_class"].items()
                          if m["se"] is not None and m["ppv"] is not None))
    print(f"Per-beat labels and probabilities: {a.out / (DEMO_RECORD + '.beats.csv')}")
    return 0


def cmd_app(a: argparse.Namespace) -> int:
    """Start the viewer (Streamlit) from the installed package at http://<address>:<port>."""
    from ecgdl.app.launch import run

    return run(a.port, a.address)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecgdl", description="ECG arrhythmia detection (MIT-BIH, AAMI classes).")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare", help=cmd_prepare.__doc__)
    pr.add_argument("--data", type=Path, default=None, help="mitdb folder (default: the configured data folder)")
    pr.add_argument("--cache", type=Path, default=None, help="cache folder (default: ./cache or $ECGDL_CACHE)")
    pr.add_argument("--workers", type=int, default=2)
    pr.add_argument("--force", action="store_true", help="rebuild even when the cache is current")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    pr.set_defaults(func=cmd_prepare)
    sc = sub.add_parser("score", help=cmd_score.__doc__)
    sc.add_argument("paths", nargs="+", help="records (.hea/.edf or a WFDB record path), folders or glob patterns")
    sc.add_argument("--out", type=Path, required=True, help="output folder")
    sc.add_argument("--model", type=Path, default=None, help="ONNX model with its .json sidecar (default: shipped)")
    sc.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    sc.add_argument("--workers", type=int, default=1, help="records scored in parallel (processes)")
    sc.add_argument("--format", choices=("csv", "parquet"), default="csv", help="per-record beats table format")
    sc.add_argument("--force", action="store_true", help="rescore records already finished in --out")
    sc.add_argument("--reference", action="store_true",
                    help="compare with .atr annotations: Se/+P per class, 150 ms matching")
    sc.add_argument("--use-reference-beats", action="store_true",
                    help="classify the reference beat annotations instead of detected R peaks (implies --reference)")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.set_defaults(func=cmd_score)
    demo = sub.add_parser("demo", help=cmd_demo.__doc__)
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="where the demo's outputs go")
    demo.set_defaults(func=cmd_demo)
    app = sub.add_parser("app", help=cmd_app.__doc__)
    app.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    app.add_argument("--address", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only; the viewer has no login, "
                          "so serve a ward only behind a proxy that authenticates, e.g. --address 0.0.0.0)")
    app.set_defaults(func=cmd_app)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
