"""The prepared MIT-BIH beat dataset: one compact cache file per record plus a manifest.

``prepare()`` reads every record, conditions both leads, cuts a window around every reference
beat annotation and stores ``BeatSet`` arrays in ``<cache>/beats-<config-hash>/<record>.npz``
with ``manifest.json`` (source file hashes, configuration, per-record counts, dropped beats).
A second call with the same sources and configuration is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ecgdl.artifacts import atomic_write, atomic_write_npz, sha256_file
from ecgdl.beats import RR_FEATURES, BeatSet, WindowConfig, make_beats
from ecgdl.io import read_record
from ecgdl.labels import AAMI_CLASSES, BEAT_SYMBOLS, to_aami
from ecgdl.signal import ConditioningConfig, condition

FORMAT_VERSION = 1


@dataclass(frozen=True)
class PrepareConfig:
    window: WindowConfig = field(default_factory=WindowConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)

    def to_dict(self) -> dict:
        return {"format": FORMAT_VERSION, "window": asdict(self.window), "conditioning": asdict(self.conditioning),
                "rr_features": list(RR_FEATURES), "classes": list(AAMI_CLASSES)}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


def record_beats(path: str | os.PathLike, cfg: PrepareConfig = PrepareConfig()) -> tuple[BeatSet, dict]:
    """Beats of one annotated record around its reference beat annotations.

    Returns the ``BeatSet`` (both leads: primary first) and a stats dict (counts, leads, edge beats).
    """
    rec = read_record(path, target_fs=cfg.window.fs)
    if rec.annotations is None:
        raise ValueError(f"{path}: no reference annotations (.atr)")
    ann = rec.annotations
    is_beat = np.isin(ann.symbol, list(BEAT_SYMBOLS))
    peaks, symbols = ann.sample[is_beat], ann.symbol[is_beat]
    inside = (peaks >= 0) & (peaks < rec.signal.shape[0])
    primary, secondary = rec.lead_pair()
    x = condition(rec.signal[:, [primary, secondary]], rec.fs, cfg.conditioning)
    beats = make_beats(x, peaks[inside], rec.fs, labels=to_aami(symbols[inside]), record=rec.name, cfg=cfg.window)
    stats = {"record": rec.name, "leads": [rec.leads[primary], rec.leads[secondary]], "beats": len(beats),
             "counts": beats.counts(), "edge_beats": int(beats.edge.sum()),
             "dropped_outside_signal": int((~inside).sum()), "notes": list(rec.notes)}
    return beats, stats


def dataset_dir(cfg: PrepareConfig = PrepareConfig(), cache: Path | None = None) -> Path:
    from ecgdl.paths import cache_dir

    return (cache or cache_dir()) / f"beats-{cfg.digest()}"


def _sources(data: Path, name: str, known: dict | None = None) -> dict[str, dict]:
    """sha256, size and mtime of a record's files; a hash is reused when size and mtime are unchanged."""
    out = {}
    for f in sorted(data.glob(f"{name}.*")):
        if f.suffix not in (".hea", ".dat", ".atr"):
            continue
        st = f.stat()
        prev = (known or {}).get(f.name)
        same = isinstance(prev, dict) and prev.get("size") == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns
        out[f.name] = {"sha256": prev["sha256"] if same else sha256_file(f), "size": st.st_size,
                       "mtime_ns": st.st_mtime_ns}
    return out


def _prepare_one(args) -> dict:
    data, name, out, cfg = args
    beats, stats = record_beats(Path(data) / name, cfg)
    atomic_write_npz(Path(out) / f"{name}.npz", **beats.__dict__)
    return stats


def prepare(records, data: Path, *, cfg: PrepareConfig = PrepareConfig(), cache: Path | None = None,
            workers: int = 2, progress: bool = True, force: bool = False) -> dict:
    """Build (or reuse) the cache for ``records`` of the database folder ``data``; returns the manifest."""
    from tqdm import tqdm

    out = dataset_dir(cfg, cache)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"records": {}}
    sources = {name: _sources(Path(data), name, old["records"].get(name, {}).get("sources")) for name in records}
    for name, files in sources.items():
        if not any(f.endswith(".hea") for f in files):
            raise FileNotFoundError(f"{Path(data) / name}.hea: record not found in {data}")
    todo = [n for n in records if force or old["records"].get(n, {}).get("sources") != sources[n]
            or not (out / f"{n}.npz").is_file()]
    manifest = {"config": cfg.to_dict(), "records": dict(old["records"])}
    if todo:
        jobs = [(str(data), n, str(out), cfg) for n in todo]
        with ProcessPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            for stats in tqdm(pool.map(_prepare_one, jobs), total=len(jobs), desc="prepare", unit="record",
                              disable=not progress):
                manifest["records"][stats["record"]] = {**stats, "sources": sources[stats["record"]]}
                atomic_write(manifest_path, json.dumps(manifest, indent=1, sort_keys=True))
    manifest["up_to_date"] = not todo
    return manifest


def load_beats(records, *, cfg: PrepareConfig = PrepareConfig(), cache: Path | None = None) -> BeatSet:
    """Load prepared beats of ``records`` (run :func:`prepare` first)."""
    out = dataset_dir(cfg, cache)
    sets = []
    for name in records:
        f = out / f"{name}.npz"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not prepared; run `ecgdl prepare` first")
        with np.load(f) as z:
            sets.append(BeatSet(**{k: z[k] for k in BeatSet.__dataclass_fields__}))
    return BeatSet.concat(sets)
