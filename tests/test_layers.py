"""The house drawn from its imports: no import loop between ecgdl modules, and no module importing
one from a higher layer (ast over every ``ecgdl`` file, lazy imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ecgdl"

#: Layers, lowest first: a module may import only from its own layer or a lower one.
LAYERS: dict[str, tuple[str, ...]] = {
    "vocabulary": ("paths", "labels", "splits", "qrs_config", "artifacts", "wfdb_reader", "edf_annotations", "errors", "clock",
                   "run_folder", "iir", "iir_filter", "storage", "out_folder"),
    "signal and records": ("signal", "quality", "ecg_presence", "vf", "wfdb_header", "plausibility", "io", "metrics", "imbalance",
                           "qrs_select", "qrs_noise", "qrs_refine",
                           "dataset_tables"),
    "beats": ("beats", "qrs", "leads", "uploads", "noise", "reference", "rhythm", "hrv", "af", "af_entropy", "f_waves", "p_wave", "wide_qrs", "vt_evidence",
              "episodes"),
    "inputs and data": ("features", "dataset", "augment", "models", "models.blocks", "models.cnn", "models.dae",
                        "models.linear", "models.lstm"),
    "serving and training": ("adapt", "adapt_atrial", "adapt_check", "adapt_cluster", "adapt_features", "adapt_embedding", "adapt_ventricular", "noise_gate", "calibration", "infer", "denoise", "train", "pretrain", "classifier_training"),
    "outputs": ("export", "export_embedding", "run_table", "batch", "result_store", "view", "clinical_report", "review", "corrections",
                "pdf_report", "annotations", "store", "engine_ray", "query"),
    "shell": ("cli", "cli_output", "__main__", "app", "app.launch", "app.streamlit_app", "app.ecg_figures",
              "app.review_ui", "app.corrections_ui", "app.panels"),
}
LAYER = {m: i for i, names in enumerate(LAYERS.values()) for m in names}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def ecgdl_imports(path: Path) -> set[str]:
    """Every ``ecgdl.*`` module that ``path`` imports, anywhere in the file (TYPE_CHECKING too)."""
    here = module_name(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else ".".join(["ecgdl", *here.split(".")[:-node.level]] + [node.module])
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for n in names:
            if n.startswith("ecgdl."):
                mod = n[len("ecgdl."):]
                if mod in LAYER or (PACKAGE / (mod.replace(".", "/") + ".py")).is_file():
                    found.add(mod)
    found.discard(here)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): ecgdl_imports(p) for p in sorted(PACKAGE.rglob("*.py")) if module_name(p)}


def test_every_module_has_a_layer():
    """A new module is placed in LAYERS above (the lowest layer holding everything it imports)."""
    unplaced = sorted(set(import_graph()) - set(LAYER))
    assert unplaced == [], f"place {unplaced} in a layer of tests/test_layers.py LAYERS"


def test_no_import_runs_upward():
    upward = [(m, d) for m, deps in import_graph().items() for d in deps if LAYER[d] > LAYER[m]]
    assert upward == []


def find_loop(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    done: set[str] = set()

    def visit(m: str, stack: list[str]) -> list[str] | None:
        for d in sorted(graph.get(m, ())):
            if d in stack:
                return stack[stack.index(d):] + [d]
            if d not in done:
                loop = visit(d, stack + [d])
                if loop:
                    return loop
        done.add(m)
        return None

    for m in sorted(graph):
        loop = None if m in done else visit(m, [m])
        if loop:
            return loop
    return None


def test_no_import_loop():
    assert find_loop(import_graph()) is None


def test_a_loop_is_found():
    assert find_loop({"qrs": {"qrs_select"}, "qrs_select": {"qrs"}, "io": set()}) == ["qrs", "qrs_select", "qrs"]


if __name__ == "__main__":  # python tests/test_layers.py: the house drawn from its imports, top layer first
    graph = import_graph()
    for layer, names in reversed(list(LAYERS.items())):
        print(f"{layer}:")
        for m in names:
            if m in graph:
                print(f"  {m:<22} -> {', '.join(sorted(graph[m])) or '-'}")
    print("import loop:", find_loop(graph))
