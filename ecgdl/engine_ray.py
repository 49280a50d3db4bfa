"""Scoring on a Ray cluster (``ecgdl score ... --engine ray [--address ADDR]``).

The batch (:mod:`ecgdl.batch`) finds the records, skips finished ones and writes the run tables; this
module only replaces its process pool. Each node gets a fixed number of **actors** (processes), each
loading the ONNX model **once** with a fixed number of ONNX Runtime threads, and each scoring records
through the batch's own per-record function, so the files written are the local engine's, byte for
byte. ONNX Runtime inside Ray actors has been reported slower than plain multiprocessing when the
threads are left to defaults (onnxruntime issue #16793): here threads per actor and actors per node
are set explicitly (:class:`ClusterConfig`), and ``OMP_NUM_THREADS`` follows.

Exactly once: the driver keeps each record in at most one actor's queue at a time. A record whose
actor dies (node lost, process killed) goes back to the queue and is scored again elsewhere, up to
``max_attempts`` times; a record whose scoring raises is reported as failed, never retried (a bad
record is not a lost worker). Writes are atomic replaces of fixed paths, so a retried record leaves
one copy of each file; temp files of dead actors are removed at the end.

Ray is imported here only, inside functions: nothing imports it unless ``--engine ray`` is asked for.

>>> score_batch(["/archive/mitdb"], BatchConfig(out=Path("/shared/out"), engine="ray",
...             cluster=ClusterConfig(address="auto")))                                  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterConfig:
    """How the batch runs on Ray.

    address: a running cluster (``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``); None starts a
    one-machine Ray instance for this run. actors_per_node: None = ``CPUs // threads_per_actor`` on CPU
    nodes, one per GPU on GPU nodes. max_attempts: tries of a record whose worker is lost.
    """

    address: str | None = None
    actors_per_node: int | None = None
    threads_per_actor: int = 1
    max_attempts: int = 3
    inflight_per_actor: int = 2
    start_timeout_s: float = 180.0


#: Errors meaning "the worker is gone", not "the record is bad": the record is scored again elsewhere.
def _lost_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    return (rex.RayActorError, rex.WorkerCrashedError, rex.NodeDiedError, rex.ObjectLostError,
            rex.OwnerDiedError, rex.LocalRayletDiedError)  # RayActorError covers died and unavailable actors


@dataclass(frozen=True)
class Work:
    """The batch's own per-record functions, handed to every actor (so this module imports no batch):
    ``load(model_path, device, threads) -> classifier`` once per actor, ``score(path, stem, cfg, key)``
    per record (``keys[path]``: the batch's input digest and resume key of the record)."""

    load: object
    score: object
    cfg: object
    keys: dict


class Scorer:
    """One Ray actor: the model loaded once, records scored by the batch's per-record function."""

    def __init__(self, model_files: dict[str, bytes], device: str, threads: int, work: Work):
        with tempfile.TemporaryDirectory(prefix="ecgdl-model-") as tmp:  # the session keeps the model in memory
            for name, data in model_files.items():
                Path(tmp, name).write_bytes(data)
            onnx = next(n for n in model_files if n.endswith(".onnx"))
            self.clf = work.load(Path(tmp, onnx), device, threads)
        self.work, self.records = work, 0
        from ecgdl.storage import remove_dead_staging

        remove_dead_staging()  # staging folders of actors killed earlier on this node

    def ready(self) -> dict:
        """Where this actor runs and on what (called once, to know it started)."""
        import ray

        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "provider": self.clf.provider}

    def score(self, record, stem: str, key) -> tuple[str, object]:
        """``("ok", summary)`` or ``("error", exception)`` for one record (a path or an ``ecgdl.storage.UriRecord``)."""
        try:
            summary = self.work.score(record, stem, self.work.cfg, key)
        except Exception as exc:  # noqa: BLE001 - a bad record is reported, not retried
            return "error", _picklable(exc)
        self.records += 1
        return "ok", summary

    def stats(self) -> dict:
        """Records scored and peak resident memory (MiB) of this actor's process."""
        import resource

        return {"pid": os.getpid(), "records": self.records,
                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def model_files(model_path: Path) -> dict[str, bytes]:
    """The ONNX file and its sidecar, by name: shipped to every actor (no shared model folder needed)."""
    onnx = Path(model_path).with_suffix(".onnx")
    return {onnx.name: onnx.read_bytes(), onnx.with_suffix(".json").name: onnx.with_suffix(".json").read_bytes()}


def plan_actors(nodes: list[dict], ccfg: ClusterConfig, device: str) -> list[dict]:
    """Actor specs ``{"node", "num_cpus", "num_gpus", "device"}`` for the alive nodes of ``ray.nodes()``."""
    specs = []
    for node in nodes:
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        cpus, gpus = float(res.get("CPU", 0)), int(res.get("GPU", 0))
        use_gpu = gpus > 0 and device != "cpu"
        n = ccfg.actors_per_node or (gpus if use_gpu else int(cpus // ccfg.threads_per_actor))
        if n <= 0 or cpus <= 0:
            continue
        num_cpus = min(float(ccfg.threads_per_actor), cpus / n)
        for _ in range(n):
            specs.append({"node": node["NodeID"], "num_cpus": num_cpus,
                          "num_gpus": gpus / n if use_gpu else 0, "device": "cuda" if use_gpu else "cpu"})
    return specs


class _Pool:
    """The live actors; ``start`` waits until each has loaded its model (or drops it)."""

    def __init__(self, model_path: Path, work: Work, ccfg: ClusterConfig):
        import ray

        self.ray, self.work, self.cfg, self.ccfg = ray, work, work.cfg, ccfg
        self.files = ray.put(model_files(model_path))
        self.live: list = []
        self.info: dict = {}  # actor -> ready() info
        self.dead_pids: set[int] = set()

    def start(self, soft: bool = False) -> int:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        specs = plan_actors(ray.nodes(), self.ccfg, self.cfg.device)
        remote = ray.remote(max_restarts=0, max_task_retries=0)(Scorer)
        env = {"env_vars": {k: str(self.ccfg.threads_per_actor)
                            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
        actors = [remote.options(num_cpus=s["num_cpus"], num_gpus=s["num_gpus"], runtime_env=env,
                                 scheduling_strategy=NodeAffinitySchedulingStrategy(s["node"], soft=soft))
                  .remote(self.files, s["device"], self.ccfg.threads_per_actor, self.work) for s in specs]
        refs = {a.ready.remote(): a for a in actors}
        done, pending = ray.wait(list(refs), num_returns=len(refs), timeout=self.ccfg.start_timeout_s)
        for ref in done:
            try:
                self.info[refs[ref]] = ray.get(ref)
                self.live.append(refs[ref])
            except Exception as exc:  # noqa: BLE001 - an actor that cannot start is dropped, and said so
                log.warning("ray: an actor failed to start: %s", exc)
        for ref in pending:
            ray.kill(refs[ref])
        return len(self.live)

    def lost(self, actor) -> None:
        """Drop an actor that died or became unreachable; killed for sure, so it never finishes a record late."""
        if actor in self.live:
            self.live.remove(actor)
            self.dead_pids.add(self.info[actor]["pid"])
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def stats(self) -> list[dict]:
        out = []
        for a in self.live:
            try:
                out.append({**self.info[a], **self.ray.get(a.stats.remote(), timeout=30)})
            except Exception:  # noqa: BLE001 - a worker lost at the very end has no stats
                pass
        return out


def run_ray(todo: list[Path], stems: dict, work: Work, model_path: Path, workers: list | None = None):
    """Yield ``(record, summary | exception)`` for every record of ``todo``, each exactly once.

    ``work.cfg`` is the batch's config (``cluster``, ``device``, ``out``); ``workers`` (a list) receives
    one dict per actor at the end: pid, node, provider, records, peak_rss_mib.
    """
    import ray

    cfg = work.cfg
    ccfg = cfg.cluster or ClusterConfig()
    ray.init(address=ccfg.address, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR", configure_logging=True)
    try:
        pool = _Pool(model_path, work, ccfg)
        if not pool.start():
            raise RuntimeError("no Ray actor could start (no CPUs/GPUs free in the cluster?)")
        nodes = {pool.info[a]["node"] for a in pool.live}
        log.info("ray: %d actors on %d nodes, %d thread(s) each, provider %s", len(pool.live), len(nodes),
                 ccfg.threads_per_actor, pool.info[pool.live[0]]["provider"])
        yield from _schedule(pool, todo, stems, ccfg)
        if workers is not None:
            workers += pool.stats()
        _remove_dead_tmp(cfg.out, pool.dead_pids)
    finally:
        ray.shutdown()


def _schedule(pool: _Pool, todo: list[Path], stems: dict, ccfg: ClusterConfig):
    """The driver loop: keep every live actor fed; requeue the records of lost actors."""
    ray, lost_errors = pool.ray, _lost_errors()
    queue, attempts, inflight = deque(todo), {r: 0 for r in todo}, {}
    while queue or inflight:
        _feed(pool, queue, inflight, stems, ccfg.inflight_per_actor)
        if not inflight:  # every actor is gone: start new ones where the cluster has room
            if not pool.start(soft=True):
                for r in queue:
                    yield r, RuntimeError("no Ray worker left to score this record")
                return
            continue
        ready, _ = ray.wait(list(inflight), num_returns=1)
        for ref in ready:
            actor, rec = inflight.pop(ref)
            try:
                status, payload = ray.get(ref)
            except lost_errors as exc:
                pool.lost(actor)
                attempts[rec] += 1
                if attempts[rec] >= ccfg.max_attempts:
                    yield rec, RuntimeError(f"worker lost {attempts[rec]} times ({type(exc).__name__})")
                else:
                    queue.appendleft(rec)
                    log.info("ray: worker lost (%s); %s requeued (attempt %d)", type(exc).__name__, stems[rec],
                             attempts[rec] + 1)
                continue
            except pool.ray.exceptions.RayError as exc:  # the task itself could not run: a record failure
                yield rec, RuntimeError(f"{type(exc).__name__}: {exc}")
                continue
            yield rec, payload


def _feed(pool: _Pool, queue: deque, inflight: dict, stems: dict, per_actor: int) -> None:
    busy: dict = {}
    for actor, _ in inflight.values():
        busy[actor] = busy.get(actor, 0) + 1
    for actor in list(pool.live):
        while queue and busy.get(actor, 0) < per_actor:
            rec = queue.popleft()
            inflight[actor.score.remote(rec, stems[rec], pool.work.keys[rec])] = (actor, rec)
            busy[actor] = busy.get(actor, 0) + 1


def _remove_dead_tmp(out, pids: set[int]) -> None:
    """Temp files of actors that died mid-write (``*.<pid>.tmp``, atomic_write's own only, never a user's);
    the finished files are all in place. ``out``: a local folder or a URI (``ecgdl.storage``)."""
    from ecgdl.out_folder import out_folder

    folder = out_folder(out)
    for pid in pids:
        folder.remove_stale_tmp(pid)
