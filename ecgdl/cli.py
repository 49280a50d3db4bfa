"""The ``ecgdl`` command: thin shells over the library (``main(argv) -> exit code``).

Each subcommand is a ``cmd_<name>(args) -> int`` plus an ``add_<name>(subparsers)`` that declares
its options; :func:`build_parser` lists them. Results go to stdout, messages (``logging``) to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from ecgdl import __version__

log = logging.getLogger("ecgdl")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WARNINGS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = """exit codes:
  0    done
  1    done, but at least one record failed (the others are written; each failure is on stderr)
  2    nothing done: bad usage or unusable input (the message names the problem)
  3    done, with warnings about records (e.g. a QRS amplitude at the edge of plausible, annotations
       ignored): on stderr, in each record's summary.json and in summary.csv's warnings column
  130  interrupted (records already finished stay written; rerun to resume)"""


def cmd_prepare(a: argparse.Namespace) -> int:
    """Build the MIT-BIH beat dataset cache and print the AAMI counts per split."""
    from ecgdl.dataset import prepare
    from ecgdl.paths import database_dir
    from ecgdl.dataset_tables import count_table
    from ecgdl.splits import ALL_RECORDS

    data = a.data or database_dir("mitdb", download=True)
    manifest = prepare(ALL_RECORDS, data, cache=a.cache, workers=a.workers, progress=a.verbosity >= 0,
                       force=a.force)
    print("cache is current (nothing rebuilt)" if manifest["up_to_date"] else "cache rebuilt")
    print(count_table(manifest))
    return EXIT_OK


def add_prepare(sub) -> None:
    pr = _subcommand(sub, "prepare", cmd_prepare, "ecgdl prepare --workers 2",
                     "cache/ (or $ECGDL_CACHE): one .npz of beats per record and manifest.json")
    pr.add_argument("--data", type=Path, default=None, help="mitdb folder (default: the configured data folder)")
    pr.add_argument("--cache", type=Path, default=None, help="cache folder (default: ./cache or $ECGDL_CACHE)")
    pr.add_argument("--workers", type=int, default=2, help="records prepared in parallel (processes; default 2)")
    pr.add_argument("--force", action="store_true", help="rebuild even when the cache is current")


def cmd_score(a: argparse.Namespace) -> int:
    """Score records, folders or globs into --out: per-record beats + summary, a run table; resumable."""
    from ecgdl.batch import BatchConfig, score_batch
    from ecgdl.cli_output import print_score

    cluster = None
    if a.engine == "ray":
        from ecgdl.engine_ray import ClusterConfig

        cluster = ClusterConfig(address=a.address, actors_per_node=a.actors_per_node,
                                threads_per_actor=a.threads_per_actor)
    cfg = BatchConfig(out=a.out, model=a.model, device=a.device, workers=a.workers, format=a.format, force=a.force,
                      reference=a.reference or a.use_reference_beats, use_reference_beats=a.use_reference_beats,
                      progress=a.verbosity >= 0 and not a.json and sys.stderr.isatty(),
                      annotations=a.annotations, csv_fs=a.fs, csv_units=a.units, engine=a.engine, cluster=cluster,
                      adapt=not a.no_adapt, lead=a.lead)
    from ecgdl.run_folder import OutFolderError, printable
    from ecgdl.storage import display

    log.info("ecgdl %s: scoring %d path argument(s) into %s (model %s, device %s, %d worker(s))", __version__,
             len(a.paths), display(str(a.out)), a.model or "shipped ecgdl_cnn", a.device, a.workers)
    log.debug("batch config: %s", cfg)
    try:
        result = score_batch(a.paths, cfg)
    except (FileNotFoundError, ValueError, OutFolderError) as exc:
        log.error("%s", printable(exc))
        return EXIT_USAGE
    log.info("%d record(s) done on %s; what this run did: %s/run.json", len(result.outcomes), result.provider,
             display(str(a.out)).rstrip("/"))
    if a.device == "cuda" and result.provider != "CUDAExecutionProvider":
        log.warning("--device cuda was asked for but the records were scored on %s", result.provider)
    print_score(result, cfg, as_json=a.json)
    for o in result.outcomes:
        for text in (o.summary.scoring.get("warnings", []) if o.summary is not None else []):
            log.warning("%s", printable(f"WARNING {o.path}: {text}"))
    for path, err in result.failures:
        log.error("%s", printable(f"FAILED {path}: {err}"))
    return score_exit_status(result)


def _out_arg(text: str) -> Path | str:
    """``--out``: a local folder (a Path) or a ``pyarrow.fs`` URI kept as written (``s3://`` is no path)."""
    return text if "://" in text else Path(text)


def score_exit_status(result) -> int:
    """EXIT_FAILED when a record failed, else EXIT_WARNINGS when a record was read with warnings (odd
    amplitude, ignored annotations...: each in its summary and the run table), else EXIT_OK."""
    if result.failures:
        return EXIT_FAILED
    if any(o.summary is not None and o.summary.scoring.get("warnings") for o in result.outcomes):
        return EXIT_WARNINGS
    return EXIT_OK


SCORE_FILES = """files written into --out (docs/outputs.md describes every column):
  <record>.beats.csv     one row per beat: sample, time_s, label, p_N..p_Q, edge[, ref_label]
                         (.beats.parquet with --format parquet)
  <record>.summary.json  the record's rhythm summary (written last: marks the record finished)
  <record>.ecgdl         WFDB annotation file of the labelled beats and rhythm changes (--annotations)
  summary.csv            one row per record of the run (a function of the inputs and options)
  run.json               what this run did: each record scored now, reused or failed, processing_s
  reference.json         Se/+P per class over all compared records (--reference)
  dataset/               Parquet: beats/record=<record>/, records.parquet, events.parquet (ecgdl query)"""


def add_score(sub) -> None:
    sc = _subcommand(sub, "score", cmd_score,
                     "ecgdl score ../shared/data/mitdb/100 --out out/\n"
                     "  ecgdl score ../shared/data/mitdb --out out/ --reference --annotations --json\n"
                     "  ecgdl score holter.csv --fs 250 --units uV --out out/", SCORE_FILES)
    sc.add_argument("paths", nargs="+",
                    help="records (.hea, .edf, .csv or a WFDB record path without extension), folders or globs")
    sc.add_argument("--out", type=_out_arg, required=True,
                    help="output folder (created; checked and locked before scoring; finished records are kept), "
                         "or a pyarrow.fs URI (s3://bucket/run, file:///...; docs/cluster.md)")
    sc.add_argument("--model", type=Path, default=None,
                    help="ONNX model with its .json sidecar beside it (default: the shipped ecgdl_cnn)")
    sc.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="ONNX Runtime device: auto = CUDA when it works, else CPU (default auto)")
    sc.add_argument("--workers", type=int, default=1,
                    help="records scored in parallel, one process each (default 1)")
    sc.add_argument("--format", choices=("csv", "parquet"), default="csv",
                    help="per-record beats table format (parquet needs pyarrow; default csv)")
    sc.add_argument("--force", action="store_true", help="rescore records already finished in --out")
    sc.add_argument("--reference", action="store_true",
                    help="compare with the record's .atr annotations: Se/+P per class, 150 ms matching")
    sc.add_argument("--use-reference-beats", action="store_true",
                    help="classify the reference beat annotations instead of detected R peaks (implies --reference)")
    sc.add_argument("--annotations", action="store_true",
                    help="also write <record>.ecgdl, a WFDB annotation file (open in WAVE, compare with bxb)")
    sc.add_argument("--fs", type=float, default=None, metavar="HZ",
                    help="sampling rate of CSV inputs in Hz (required for .csv; WFDB/EDF give their own)")
    sc.add_argument("--units", choices=("mV", "uV", "V"), default="mV", help="units of CSV inputs (default mV)")
    sc.add_argument("--no-adapt", action="store_true",
                    help="inductive labels only: skip the patient-adaptive step (ecgdl.adapt) the model ships with")
    sc.add_argument("--lead", default=None, metavar="NAME",
                    help="the lead to read as the primary (MLII-like) lead, e.g. ECG2; --lead=-ECG2 when it is inverted "
                         "(default: by name, MLII trusted; unknown names decided from each lead's median beat)")
    sc.add_argument("--json", action="store_true", help="print the run's summary as JSON on stdout")
    sc.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="local processes, or a Ray cluster (pip install 'ecgdl[cluster]'; docs/cluster.md)")
    sc.add_argument("--address", default=None,
                    help="Ray cluster address, e.g. HEAD:6379 or auto (default: start Ray on this machine)")
    sc.add_argument("--actors-per-node", type=int, default=None,
                    help="Ray actors per node (default: the node's CPUs / --threads-per-actor; one per GPU)")
    sc.add_argument("--threads-per-actor", type=int, default=1, help="ONNX Runtime threads per Ray actor (default 1)")


def cmd_query(a: argparse.Namespace) -> int:
    """SQL over a scored folder's Parquet dataset (views records, events, beats) through embedded DuckDB."""
    from ecgdl.query import format_rows, query

    try:
        cols, rows = query(a.dir, a.sql)
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - a bad SQL statement: DuckDB's own message
        log.error("%s: %s", type(exc).__name__, exc)
        return EXIT_USAGE
    print(format_rows(cols, rows, a.format))
    return EXIT_OK


def add_query(sub) -> None:
    qu = _subcommand(sub, "query", cmd_query,
                     'ecgdl query out/ "SELECT record, V_longest_run_beats, AF_burden_pct FROM records '
                     'WHERE V_longest_run_beats >= 10 OR AF_burden_pct > 10"', "nothing (reads DIR/dataset)")
    qu.add_argument("dir", help="a folder written by `ecgdl score --out`, or its pyarrow.fs URI (s3://...)")
    qu.add_argument("sql", help="SQL over the views records, events, beats (docs/cluster.md lists the columns)")
    qu.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default table)")


DEMO_RECORD = "200"


def cmd_demo(a: argparse.Namespace) -> int:
    """Score a default MIT-BIH record with the shipped model and print its rhythm summary."""
    from ecgdl.cli_output import print_demo
    from ecgdl.paths import database_dir

    folder = database_dir("mitdb")
    if not (folder / f"{DEMO_RECORD}.hea").is_file():
        import wfdb

        log.warning("downloading MIT-BIH record %s from PhysioNet into %s ...", DEMO_RECORD, folder)
        folder.mkdir(parents=True, exist_ok=True)
        wfdb.dl_database("mitdb", dl_dir=str(folder), records=[DEMO_RECORD])
    return print_demo(folder / DEMO_RECORD, a.out)


def add_demo(sub) -> None:
    demo = _subcommand(sub, "demo", cmd_demo, "ecgdl demo --out out/demo",
                       "the score files of MIT-BIH record 200 in --out (see `ecgdl score --help`)")
    demo.add_argument("--out", type=Path, default=Path("out/demo"), help="where the demo's outputs go")


def cmd_app(a: argparse.Namespace) -> int:
    """Start the viewer (Streamlit) from the installed package at http://<address>:<port>."""
    from ecgdl.app.launch import run

    return run(a.port, a.address)


def add_app(sub) -> None:
    app = _subcommand(sub, "app", cmd_app, "ecgdl app --port 8501", "nothing (uploads stay in memory)")
    app.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    app.add_argument("--address", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine only; the viewer has no login, "
                          "so serve a ward only behind a proxy that authenticates, e.g. --address 0.0.0.0)")


# ----------------------------------------------------------------------------- the parser and main


def _subcommand(sub, name: str, func, examples: str, files: str) -> argparse.ArgumentParser:
    """A subparser with its help, examples, the files it writes, the exit codes and -v/-q."""
    epilog = f"examples:\n  {examples}\n\n{files if files.startswith('files') else 'files written: ' + files}"
    p = sub.add_parser(name, help=func.__doc__, description=func.__doc__, epilog=f"{epilog}\n\n{EXIT_CODES}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    verbosity = p.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", dest="verbosity", action="count", default=0,
                           help="more messages on stderr (-vv: debug)")
    verbosity.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                           help="errors only on stderr, no progress bar")
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecgdl", description="ECG arrhythmia detection (MIT-BIH, AAMI classes).",
                                epilog="examples:\n  ecgdl demo\n  ecgdl score ../shared/data/mitdb --out out/ "
                                       f"--reference\n  ecgdl score --help\n\n{EXIT_CODES}",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"ecgdl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_score, add_query, add_demo, add_app, add_prepare):
        add(sub)
    return p


class _Counter(logging.Handler):
    """Counts the warnings logged during one command (they turn exit 0 into 3)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warnings = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.warnings += record.levelno == logging.WARNING


_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning raised by ecgdl becomes one plain logged line (no source code shown); other
    libraries' warnings (deprecations in dependencies) go to the debug log."""
    ours = str(filename).startswith(_PACKAGE_DIR)
    log.log(logging.WARNING if ours else logging.DEBUG, "%s", message)


def configure_logging(verbosity: int) -> None:
    """stderr, ``level: message``; -q errors only, default warnings, -v info, -vv debug."""
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.setLevel(level)  # the logger passes everything: -q hides warnings but they still set exit 3
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    log.propagate = False


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (see :data:`EXIT_CODES`)."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbosity)
    counter = _Counter()
    log.addHandler(counter)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _log_warning
            rc = int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        log.error("interrupted")
        return EXIT_INTERRUPTED
    finally:
        log.removeHandler(counter)
    return EXIT_WARNINGS if rc == EXIT_OK and counter.warnings else rc


if __name__ == "__main__":
    sys.exit(main())
