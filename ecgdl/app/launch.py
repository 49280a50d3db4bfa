"""Start the viewer from the installed package: ``streamlit run`` on the packaged page with the packaged settings.

The settings live in ``ecgdl/app/config.toml`` (one place) and are passed as ``--<section>.<option>``
flags, so the viewer behaves the same from any working directory.

>>> streamlit_command(port=8502)[:4]          # doctest: +SKIP
['/usr/bin/python3', '-m', 'streamlit', 'run']
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path


def page_path() -> Path:
    """The Streamlit page shipped in the package (a real file: wheels install unpacked)."""
    return Path(str(resources.files("ecgdl.app").joinpath("streamlit_app.py")))


def config_flags() -> list[str]:
    """``config.toml`` as ``streamlit run`` flags, e.g. ``['--server.headless', 'true', ...]``."""
    text = resources.files("ecgdl.app").joinpath("config.toml").read_text(encoding="utf-8")
    flags: list[str] = []
    for section, options in tomllib.loads(text).items():
        for key, value in options.items():
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{key}", shown]
    return flags


def streamlit_command(port: int = 8501, address: str = "127.0.0.1", extra: list[str] | None = None) -> list[str]:
    """The full command line that serves the viewer at ``http://<address>:<port>``."""
    return [sys.executable, "-m", "streamlit", "run", str(page_path()), *config_flags(),
            "--server.port", str(port), "--server.address", address, *(extra or [])]


def run(port: int = 8501, address: str = "127.0.0.1", extra: list[str] | None = None) -> int:
    """Serve the viewer until interrupted; returns Streamlit's exit status (``ModuleNotFoundError``
    with an install hint when the ``app`` extra is missing)."""
    if importlib.util.find_spec("streamlit") is None:
        raise ModuleNotFoundError("the viewer needs the app extra: pip install 'ecgdl[app]'")
    cmd = streamlit_command(port, address, extra)
    if os.name == "posix":
        # Streamlit takes this process's place, so a SIGTERM (a service manager, a test's terminate())
        # reaches the server itself instead of orphaning it behind a waiting parent.
        os.execv(cmd[0], cmd)
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
