"""SQL over a run's Parquet dataset (:mod:`ecgdl.store`) with DuckDB, embedded: nothing to start.

Three views: ``records`` (one row per record), ``events`` (one row per rhythm event) and ``beats``
(one row per beat, ``record`` from the partition folder). ``DIR`` is a local folder or a
``pyarrow.fs`` URI (``s3://bucket/run``, ``gs://...``, ``file:///...``); local folders are read by
DuckDB directly, URIs through ``pyarrow.dataset`` (only the columns and partitions a query needs).

>>> cols, rows = query("out/archive", "SELECT record FROM records WHERE V_longest_run_beats >= 10")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from ecgdl.store import DATASET

VIEWS = ("records", "events", "beats")

#: The issue's two example questions, as SQL over the views (also in docs/cluster.md).
EXAMPLES = {
    "vt_or_af": ("SELECT record, V_longest_run_beats, AF_burden_pct FROM records "
                 "WHERE V_longest_run_beats >= 10 OR AF_burden_pct > 10 ORDER BY record"),
    "vt_runs": ("SELECT record, start_s, end_s, beats, rate_bpm FROM events "
                "WHERE source = 'beats' AND class = 'V' AND kind = 'run' AND beats >= 10 ORDER BY record, start_s"),
    "af_episodes": ("SELECT record, count(*) AS episodes, round(sum(duration_s)) AS af_s FROM events "
                    "WHERE source = 'episode' AND kind = 'AFIB' GROUP BY record ORDER BY af_s DESC"),
}


def _is_uri(out) -> bool:
    return "://" in str(out)


def connect(out):
    """A DuckDB connection with the ``records``, ``events`` and ``beats`` views of ``out``'s dataset.

    Raises ``FileNotFoundError`` when ``out`` holds no dataset.
    """
    import duckdb

    con = duckdb.connect()
    if _is_uri(out):
        from ecgdl.storage import join

        _register_arrow(con, join(str(out), DATASET))
        return con
    folder = Path(out) / DATASET
    if not (folder / "records.parquet").is_file():
        raise FileNotFoundError(f"{out}: no results dataset ({folder}/records.parquet); run `ecgdl score --out {out}`")
    con.execute(f"CREATE VIEW records AS SELECT * FROM read_parquet({_lit(folder / 'records.parquet')})")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({_lit(folder / 'events.parquet')})")
    if any((folder / "beats").glob("record=*")):
        con.execute(f"CREATE VIEW beats AS SELECT * FROM read_parquet({_lit(folder / 'beats/*/*.parquet')}, "
                    "hive_partitioning = true, hive_types = {'record': VARCHAR}, union_by_name = true)")
    return con


def _lit(path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _register_arrow(con, uri: str) -> None:
    """Views over a dataset on a ``pyarrow.fs`` filesystem (object storage)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    from ecgdl.storage import display, filesystem

    fs, root = filesystem(uri)
    root = root.rstrip("/")
    if fs.get_file_info(f"{root}/records.parquet").type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{display(uri)}: no records.parquet")
    con.register("records", ds.dataset(f"{root}/records.parquet", filesystem=fs, format="parquet"))
    con.register("events", ds.dataset(f"{root}/events.parquet", filesystem=fs, format="parquet"))
    part = ds.partitioning(pa.schema([("record", pa.string())]), flavor="hive")
    con.register("beats", ds.dataset(f"{root}/beats", filesystem=fs, format="parquet", partitioning=part))


def query(out, sql: str) -> tuple[list[str], list[tuple]]:
    """``(column names, rows)`` of ``sql`` over ``out``'s dataset."""
    con = connect(out)
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def format_rows(cols: list[str], rows: list[tuple], fmt: str = "table") -> str:
    """Rows as an aligned text table, CSV, or JSON lines."""
    if fmt == "json":
        import json

        return "\n".join(json.dumps(dict(zip(cols, r)), default=str) for r in rows)
    cells = [[("" if v is None else str(v)) for v in r] for r in rows]
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([cols, *cells])
        return buf.getvalue().rstrip("\n")
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines + [f"({len(rows)} rows)"])
