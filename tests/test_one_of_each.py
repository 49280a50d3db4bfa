"""One definition each (read from the source with ast): sha256 of a file, atomic write, ONNX session
with sidecar verification, the per-class metric dict, percent formatting. Each job lives in one
function; everything else calls it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted(p for d in ("ecgdl", "pipelines", "gpu", "benchmarks") for p in (ROOT / d).rglob("*.py"))


def _where(predicate, sources=SOURCES) -> list[str]:
    """``file:function`` of every node matching ``predicate`` (the enclosing function, or the module)."""
    hits = []
    for path in sources:
        tree = ast.parse(path.read_text())
        for fn in [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))]:
            body = fn.body if isinstance(fn, ast.Module) else [fn]
            nodes = (n for stmt in body for n in ast.walk(stmt))
            if any(predicate(n) for n in nodes):
                hits.append(f"{path.relative_to(ROOT)}:{getattr(fn, 'name', '<module>')}")
    # a function's hits also show in the module entry: keep the innermost names only
    named = {h.rsplit(":", 1)[0] for h in hits if not h.endswith("<module>")}
    return sorted(h for h in hits if not (h.endswith("<module>") and h.rsplit(":", 1)[0] in named))


def _call(n, owner: str | None, attr: str) -> bool:
    return (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attr
            and (owner is None or (isinstance(n.func.value, ast.Name) and n.func.value.id == owner)))


def _hundred_times(n) -> bool:
    """An f-string field ``{100 * x...}``: a percent being formatted."""
    return (isinstance(n, ast.FormattedValue) and isinstance(n.value, ast.BinOp) and isinstance(n.value.op, ast.Mult)
            and any(isinstance(s, ast.Constant) and s.value in (100, 100.0) for s in (n.value.left, n.value.right)))


def _metric_dict(n) -> bool:
    keys = {k.value for k in getattr(n, "keys", []) if isinstance(k, ast.Constant)}
    return isinstance(n, ast.Dict) and {"se", "ppv"} <= keys


ONE_OF_EACH = {
    "sha256 of a file": (lambda n: _call(n, "hashlib", "file_digest") or (_call(n, "hashlib", "sha256") and any(
        _call(a, None, "read_bytes") or _call(a, None, "read") for a in ast.walk(n))), ["ecgdl/artifacts.py:sha256_file"]),
    "atomic write (temp file, fsync, os.replace)": (lambda n: _call(n, "os", "replace") or _call(n, None, "mkstemp"),
                                                    ["ecgdl/artifacts.py:atomic_write_with"]),
    "ONNX session (after the sidecar check)": (lambda n: _call(n, None, "InferenceSession"),
                                               ["ecgdl/artifacts.py:_cuda_session", "ecgdl/artifacts.py:onnx_session"]),
    "sidecar verification": (lambda n: isinstance(n, ast.Constant) and isinstance(n.value, str)
                             and "sha256 differs" in n.value, ["ecgdl/artifacts.py:read_sidecar"]),
    # benchmarks/qrs_*: R-peak detection Se/+P over all beats (tp/fn/fp), not a per-class dict
    "per-class metric dict": (_metric_dict, ["ecgdl/metrics.py:class_metrics"], "ecgdl pipelines gpu"),
    "percent formatting": (_hundred_times, ["ecgdl/metrics.py:percent"]),
}


@pytest.mark.parametrize("job", list(ONE_OF_EACH))
def test_one_definition(job):
    predicate, expected, *folders = ONE_OF_EACH[job]
    sources = [p for p in SOURCES if not folders or p.relative_to(ROOT).parts[0] in folders[0].split()]
    assert _where(predicate, sources) == expected
