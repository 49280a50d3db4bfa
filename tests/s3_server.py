"""A real S3-compatible HTTP server on 127.0.0.1 for the URI tests: moto's server (``moto_server``, the
``moto[server]`` package), started as its own process and stopped at the end. ecgdl talks to it through
``pyarrow.fs.S3FileSystem`` (``endpoint_override``) over HTTP, as it would to AWS: nothing of ecgdl is mocked."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: Credentials the server accepts (any); pyarrow reads them from the environment as on AWS.
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
       "AWS_DEFAULT_REGION": "us-east-1"}
MOTO = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or shutil.which("moto_server")


class S3Server:
    """``moto_server`` on a free port of 127.0.0.1, in its own process group."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen | None = None

    def start(self) -> S3Server:
        self.proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)

    def uri(self, path: str) -> str:
        """``s3://<path>`` on this server (``path`` starts with the bucket)."""
        return f"s3://{path}?endpoint_override=127.0.0.1:{self.port}&scheme=http&region=us-east-1"

    def filesystem(self):
        import pyarrow.fs as pafs

        return pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{self.port}", scheme="http", region="us-east-1",
                                 access_key=ENV["AWS_ACCESS_KEY_ID"], secret_key=ENV["AWS_SECRET_ACCESS_KEY"],
                                 allow_bucket_creation=True)

    def upload(self, folder: Path, prefix: str) -> None:
        """Every file of ``folder`` to ``s3://<prefix>/<name>`` (the bucket is created)."""
        fs = self.filesystem()
        fs.create_dir(prefix.split("/")[0])
        for f in sorted(folder.iterdir()):
            with fs.open_output_stream(f"{prefix}/{f.name}") as out:
                out.write(f.read_bytes())

    def files(self, prefix: str) -> dict[str, bytes]:
        """Every object under ``prefix``, relative name -> bytes. Read while a run may still be writing: an object
        deleted between the listing and its read (the run's write probe, a replaced temporary) is left out."""
        import pyarrow.fs as pafs

        fs = self.filesystem()
        infos = fs.get_file_info(pafs.FileSelector(prefix, recursive=True, allow_not_found=True))
        out = {}
        for i in infos:
            if i.type == pafs.FileType.File:
                try:
                    with fs.open_input_stream(i.path) as fh:
                        out[i.path[len(prefix) + 1:]] = fh.read()
                except FileNotFoundError:
                    continue
        return out

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
