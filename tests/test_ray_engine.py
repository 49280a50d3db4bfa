"""`ecgdl score --engine ray` on a real two-node Ray cluster that the tests start on 127.0.0.1.

One cluster per session (Ray start-up costs ~20 s on 2 cores): a head node and a worker node, each
started by ``ray start --block`` in its own process group, one CPU each, so each node runs one actor.
Nodes are given ``--node-ip-address=127.0.0.1``; Ray itself maps a loopback address to the machine's
own interface address (``resolve_ip_for_localhost``), so the nodes talk over that, on this machine.
Token authentication is off for this throw-away local cluster (``RAY_AUTH_MODE=disabled``).
Every run is a real ``ecgdl score`` process (the driver), against the local engine's outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import s3_server
from infer_fixtures import write_excerpt

from ecgdl.run_folder import comparable_outputs

ray = pytest.importorskip("ray", reason="ray not installed (pip install 'ecgdl[cluster]')")
pytest.importorskip("duckdb", reason="duckdb not installed (pip install 'ecgdl[cluster]')")

REPO = Path(__file__).resolve().parent.parent
RAY_ENV = {**os.environ, "PYTHONPATH": str(REPO), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled",
           **s3_server.ENV}  # the nodes read and write s3:// with these (as a cluster's nodes would with theirs)
RAY = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
DS1 = ("101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124", "201", "203",
       "205", "207", "208", "209", "215", "220", "223", "230")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """Whether something accepts TCP connections on ``port`` (any local address)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                return True
    return False


def _pids_in_groups(pgids: set[int]) -> list[int]:
    """PIDs of live (not zombie) processes in the given process groups."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, ...
            if fields[0] != "Z" and int(fields[2]) in pgids:
                out.append(int(d.name))
    return out


def _pids_under(marker: str) -> list[int]:
    """PIDs of live processes whose command line mentions ``marker`` (our cluster's temp folder)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and int(d.name) != os.getpid():
                out.append(int(d.name))
    return out


class LocalCluster:
    """A head and a worker node on 127.0.0.1, each ``ray start --block`` in its own process group."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="ecgdl-ray-", dir="/tmp")  # short: Ray's socket paths must fit
        self.port, self.worker_port = _free_port(), _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = RAY_ENV
        self.nodes: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str]) -> None:
        log = open(Path(self.tmp) / f"{name}.log", "wb")
        self.nodes[name] = subprocess.Popen([RAY, "start", "--block", "--num-cpus=1", "--disable-usage-stats",
                                             "--node-ip-address=127.0.0.1", *args], env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self) -> LocalCluster:
        """Start the head, then the worker as soon as the head's GCS port answers; wait for both."""
        self._start("head", ["--head", f"--port={self.port}", f"--temp-dir={self.tmp}", "--include-dashboard=false"])
        self._wait(lambda: _listening(self.port), "the head's GCS port")
        self._start("worker", [f"--address={self.address}", f"--node-manager-port={self.worker_port}"])
        for name in self.nodes:
            self._wait(lambda: b"Ray runtime started" in (Path(self.tmp) / f"{name}.log").read_bytes(), name)
        return self

    def _wait(self, ready, what: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.nodes.values()):
                logs = {n: (Path(self.tmp) / f"{n}.log").read_text()[-2000:] for n in self.nodes}
                raise RuntimeError(f"Ray cluster: {what} not up: {logs}")
            time.sleep(0.2)

    def worker_raylet_pid(self) -> int:
        """The worker node's raylet (found by the node-manager port it was given)."""
        for pid in _pids_under(f"--node_manager_port={self.worker_port}"):
            if "raylet" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                return pid
        raise RuntimeError("worker raylet not found")

    def pids(self) -> list[int]:
        """Every live process of the cluster: in its nodes' process groups or naming its temp folder."""
        return sorted(set(_pids_in_groups({p.pid for p in self.nodes.values()})) | set(_pids_under(self.tmp)))

    def stop(self) -> list[int]:
        """Stop both nodes (SIGTERM to each process group, 10 s, then SIGKILL); returns what is still alive."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in self.nodes.values():
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.5)
        for p in self.nodes.values():
            p.wait(timeout=10)
        return self.pids()


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    try:
        yield c.start()
    finally:
        c.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)


def _score(paths, out: Path, *extra: str, model=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ecgdl.cli", "score", *map(str, paths), "--out", str(out), "--device", "cpu",
           "--quiet", *extra]
    if model:
        cmd += ["--model", str(model)]
    return subprocess.run(cmd, env=RAY_ENV, capture_output=True, text=True, timeout=600)


def _excerpts(tmp_path_factory, mitdb_dir, names, seconds: float) -> Path:
    folder = tmp_path_factory.mktemp("records")
    for r in names:
        write_excerpt(mitdb_dir / r, folder, r, start_s=30.0, seconds=seconds)
    return folder


def _assert_same_as_local(records, tmp_path: Path, cluster: LocalCluster, *extra: str) -> None:
    local, dist = tmp_path / "local", tmp_path / "ray"
    assert _score(records, local, *extra).returncode == 0
    run = _score(records, dist, "--engine", "ray", "--address", cluster.address, *extra)
    assert run.returncode == 0, run.stderr
    a, b = comparable_outputs(local), comparable_outputs(dist)
    assert sorted(a) == sorted(b)
    assert [k for k in a if a[k] != b[k]] == []


@pytest.mark.slow
def test_ray_outputs_equal_local_engine_on_ds1(cluster, tmp_path, mitdb_dir):
    _assert_same_as_local([mitdb_dir / r for r in DS1], tmp_path, cluster, "--reference")


@pytest.fixture(scope="module")
def s3():
    if s3_server.MOTO is None:
        pytest.skip("moto_server not installed (pip install 'moto[server]', in the dev extra)")
    server = s3_server.S3Server().start()
    yield server
    server.stop()


@pytest.mark.parametrize("where", ["s3", pytest.param("posix", marks=pytest.mark.slow)])
def test_worker_node_killed_mid_run_loses_no_record(where, cluster, request, tmp_path_factory, tmp_path, mitdb_dir):
    """The default run's Ray case: 8 records read from a bucket and scored into it (``s3://`` on a real
    S3-compatible server; ``posix``: the same on local paths, slow), the worker node killed after 2
    finish; every record exactly once, and the files the local engine's, byte for byte (the record's
    source path and wall times aside; the 22-record POSIX comparison is the slow test above)."""
    names = ("100", "101", "103", "105", "106", "112", "113", "115")
    records = _excerpts(tmp_path_factory, mitdb_dir, names, 300.0)
    if where == "s3":
        s3 = request.getfixturevalue("s3")
        s3.upload(records, "kill/in")
        src, out = s3.uri("kill/in"), s3.uri("kill/out")

        def listing() -> dict[str, bytes]:
            return s3.files("kill/out")
    else:
        src, out = str(records), str(tmp_path / "out")

        def listing() -> dict[str, bytes]:
            return _raw(tmp_path / "out")
    cmd = [sys.executable, "-m", "ecgdl.cli", "score", src, "--out", out, "--device", "cpu",
           "-v", "--reference", "--engine", "ray", "--address", cluster.address]
    driver = subprocess.Popen(cmd, env=RAY_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while _summaries(listing()) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        done_at_kill = _summaries(listing())
        os.kill(cluster.worker_raylet_pid(), signal.SIGKILL)  # the worker node goes, with its actor
        stdout, stderr = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:   # a failure above must not leave the driver holding the out folder's lock
            driver.kill()
            driver.wait(timeout=30)
    assert driver.returncode == 0, stderr
    assert "ray: 2 actors on 2 nodes" in stderr
    assert done_at_kill < len(names)  # it was killed mid-run
    # whether a record was in flight on the lost node at the kill is timing ("requeued" in the log when one
    # was); either way every record is scored exactly once, which the checks below assert
    assert f"{len(names)} scored, 0 already done, 0 failed" in stdout
    files = listing()
    rows = files["summary.csv"].decode().splitlines()[1:]
    assert sorted(r.split(",")[0] for r in rows) == sorted(names)  # every record exactly once
    assert sorted(k for k in files if k.endswith(".summary.json")) == sorted(f"{n}.summary.json" for n in names)
    assert sorted(k for k in files if k.startswith("dataset/beats/")) == sorted(
        f"dataset/beats/record={n}/part-0.parquet" for n in names)
    assert not [k for k in files if k.endswith(".tmp")] and ".ecgdl-score.lock" not in files
    # and each record's files are whole and right: the same bytes as a local run of the same records
    assert _score([records], tmp_path / "local", "--reference").returncode == 0
    a, b = _without_source(_raw(tmp_path / "local")), _without_source(files)
    assert sorted(a) == sorted(b) and [k for k in a if a[k] != b[k]] == []
    if where == "s3":
        from ecgdl.query import query

        assert len(query(out, "SELECT record FROM records WHERE status = 'ok'")[1]) == len(names)


def _summaries(files: dict[str, bytes]) -> int:
    return sum(k.endswith(".summary.json") for k in files)


def _raw(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (the lock file aside), relative name -> bytes."""
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()
            and p.name != ".ecgdl-score.lock"}


def _without_source(files: dict[str, bytes]) -> dict[str, object]:
    """Files with the fields naming where each record was read from (path or URI) and wall times dropped."""
    import io

    import pyarrow.parquet as pq

    def drop(v):
        if isinstance(v, dict):
            return {k: drop(x) for k, x in v.items() if k not in ("source_path", "path", "seconds", "processing_s")}
        return [drop(x) for x in v] if isinstance(v, list) else v

    out = {}
    for name, data in files.items():
        if name.endswith(".json"):
            out[name] = drop(json.loads(data))
        elif name == "dataset/records.parquet":
            out[name] = pq.read_table(io.BytesIO(data)).drop_columns(["source_path"]).to_pylist()
        elif name != ".ecgdl-score.lock":
            out[name] = data
    return out


@pytest.mark.gpu
def test_gpu_actor_scores_on_cuda(tmp_path, mitdb_dir):
    """On a GPU machine (skipped without CUDA): Ray started by the run, one actor per GPU (``num_gpus``),
    and that actor's ONNX Runtime session on the CUDA provider."""
    from ecgdl.batch import BatchConfig, score_batch
    from ecgdl.engine_ray import ClusterConfig

    folder = tmp_path / "rec"
    write_excerpt(mitdb_dir / "100", folder, "100", seconds=60.0)
    result = score_batch([folder], BatchConfig(out=tmp_path / "out", device="cuda", engine="ray", progress=False,
                                               cluster=ClusterConfig()))
    assert result.ok and result.workers
    assert all(w["provider"] == "CUDAExecutionProvider" for w in result.workers)


def test_zz_cluster_stops_leaving_nothing_running(cluster):
    assert len(cluster.pids()) > 4  # the cluster's processes (GCS, raylets, agents, actors) while it runs ...
    assert cluster.stop() == []     # ... and none is left once it is stopped


def test_local_engine_never_imports_ray(tmp_path, mitdb_dir):
    """Ray is imported for ``--engine ray`` only: a local run leaves it out of ``sys.modules``."""
    folder = tmp_path / "rec"
    write_excerpt(mitdb_dir / "100", folder, "100", seconds=30.0)
    code = ("import sys; from ecgdl.cli import main; "
            f"rc = main(['score', {str(folder)!r}, '--out', {str(tmp_path / 'out')!r}, '--device', 'cpu', '--quiet']); "
            "print(rc, 'ray' in sys.modules, 'duckdb' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], env=RAY_ENV, capture_output=True, text=True, timeout=300)
    assert run.stdout.split()[-3:] == ["0", "False", "False"], run.stderr


def test_a_failed_record_reaches_the_driver_as_the_same_error():
    """An actor's failed record crosses to the driver pickled: the same type and message as the local
    engine reports (the run table's ``error`` cell is then the same)."""
    import pickle

    from ecgdl.engine_ray import _picklable
    from ecgdl.errors import RecordError

    err = RecordError("s3://archive/in/bad.dat", "truncated: 999 bytes")
    back = pickle.loads(pickle.dumps(_picklable(err)))
    assert type(back) is RecordError and str(back) == str(err) and back.problem == err.problem


@pytest.mark.parametrize("device, per_node, threads, expected", [
    ("auto", None, 1, [("cpu-node", 1.0, 0, "cpu")] * 4 + [("gpu-node", 1.0, 1, "cuda")] * 2),
    ("cpu", None, 2, [("cpu-node", 2.0, 0, "cpu")] * 2 + [("gpu-node", 2.0, 0, "cpu")] * 4),
    ("auto", 3, 2, [("cpu-node", 4 / 3, 0, "cpu")] * 3 + [("gpu-node", 2.0, 2 / 3, "cuda")] * 3),
])
def test_actor_plan_per_node(device, per_node, threads, expected):
    """Actors per node and their resources from ``ray.nodes()``: CPU actors on CPU nodes (CPUs / threads),
    one GPU actor per GPU (``num_gpus``, device CUDA) unless ``--device cpu``; dead nodes get none."""
    from ecgdl.engine_ray import ClusterConfig, plan_actors

    nodes = [{"NodeID": "cpu-node", "Alive": True, "Resources": {"CPU": 4.0}},
             {"NodeID": "gpu-node", "Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0}},
             {"NodeID": "dead-node", "Alive": False, "Resources": {"CPU": 64.0}}]
    specs = plan_actors(nodes, ClusterConfig(actors_per_node=per_node, threads_per_actor=threads), device)
    got = [(s["node"], round(s["num_cpus"], 3), round(s["num_gpus"], 3), s["device"]) for s in specs]
    assert got == [(n, round(c, 3), round(g, 3), d) for n, c, g, d in expected]
