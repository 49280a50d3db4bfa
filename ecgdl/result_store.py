"""The viewer's memory of scored uploads: one result per browser session, capped, stale ones dropped.

A scored 24-hour record holds about 500 MB (signal, conditioned signal, probabilities). Kept in
each session's own state, a handful of sessions could exhaust the server; kept here instead, the
total is capped (:attr:`ResultStore.max_bytes`, least recently used sessions dropped first) and a
session idle for longer than :attr:`ResultStore.max_idle_s` loses its result. A dropped result is
simply scored again from the upload the next time its session is drawn.

Nothing about the record is stored here but the result itself: keys are opaque digests.

>>> store = ResultStore(max_bytes=10, max_idle_s=60)
>>> store.put("session-a", "k1", "result", nbytes=4)
True
>>> store.get("session-a", "k1")
'result'
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_MB = 1024 * 1024
#: Defaults, overridable by ``ECGDL_VIEWER_MEMORY_MB`` (all sessions together) and ``ECGDL_VIEWER_IDLE_S``.
DEFAULT_MAX_MB = 3072
DEFAULT_IDLE_S = 1800.0


@dataclass
class _Entry:
    key: str
    value: object
    nbytes: int
    used: float


class ResultStore:
    """Thread-safe store of one ``(key, value)`` per session; see the module docstring.

    max_bytes: all sessions together; a value larger than this on its own is not stored.
    max_idle_s: a session not read or written for this long loses its entry.
    """

    def __init__(self, max_bytes: int, max_idle_s: float, clock: Callable[[], float] = time.monotonic):
        self.max_bytes = int(max_bytes)
        self.max_idle_s = float(max_idle_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    @classmethod
    def from_env(cls) -> ResultStore:
        """A store sized by ``ECGDL_VIEWER_MEMORY_MB`` / ``ECGDL_VIEWER_IDLE_S`` (defaults 3072 MB, 1800 s)."""
        mb = float(os.environ.get("ECGDL_VIEWER_MEMORY_MB", DEFAULT_MAX_MB))
        return cls(int(mb * _MB), float(os.environ.get("ECGDL_VIEWER_IDLE_S", DEFAULT_IDLE_S)))

    def get(self, session: str, key: str):
        """The session's value when it was stored under ``key`` and is still held, else None."""
        with self._lock:
            self._drop_stale()
            entry = self._entries.get(session)
            if entry is None or entry.key != key:
                return None
            entry.used = self._clock()
            return entry.value

    def put(self, session: str, key: str, value, nbytes: int) -> bool:
        """Hold ``value`` as the session's one result (replacing its previous one); False when too large."""
        with self._lock:
            self._entries.pop(session, None)
            if nbytes > self.max_bytes:
                return False
            self._entries[session] = _Entry(key, value, int(nbytes), self._clock())
            self._drop_stale()
            while self.total_bytes() > self.max_bytes:
                oldest = min(self._entries, key=lambda s: self._entries[s].used)
                del self._entries[oldest]
            return session in self._entries

    def total_bytes(self) -> int:
        """Bytes held over all sessions."""
        return sum(e.nbytes for e in self._entries.values())

    def sessions(self) -> list[str]:
        """Sessions holding a result now."""
        with self._lock:
            return list(self._entries)

    def _drop_stale(self) -> None:
        now = self._clock()
        for s in [s for s, e in self._entries.items() if now - e.used > self.max_idle_s]:
            del self._entries[s]


def result_nbytes(result) -> int:
    """Bytes held by the numpy arrays of a scored result (``RecordResult``) and its record."""
    arrays = [v for obj in (result, getattr(result, "record", None)) if obj is not None
              for v in vars(obj).values() if isinstance(v, np.ndarray)]
    return int(sum(a.nbytes for a in arrays))
