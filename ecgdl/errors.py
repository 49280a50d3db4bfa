"""The project's own error for an input that cannot be used (re-exported by :mod:`ecgdl.io`)."""

from __future__ import annotations

import os


class RecordError(ValueError):
    """A record that cannot be used; ``str()`` names the file and the problem.

    >>> str(RecordError("100.hea", "header file not found"))
    '100.hea: header file not found'
    """

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __reduce__(self):
        """Pickled with both arguments (a Ray actor's failed record reaches the driver as the same error)."""
        return type(self), (self.path, self.problem)
