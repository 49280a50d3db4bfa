"""Export a trained classifier checkpoint to ``ecgdl/shipped/<name>.onnx`` + ``<name>.json`` (verified), and
regenerate the per-model sections of ``docs/model_card.md`` from the shipped sidecars.

    python pipelines/export.py --checkpoint runs/best_cnn/checkpoint.pt --name ecgdl_cnn
    python pipelines/export.py --checkpoint runs/best_lstm/checkpoint.pt --name ecgdl_lstm
    python pipelines/export.py --card-only          # rebuild the model card's tables
    python pipelines/export.py --name ecgdl_cnn --adapt runs/cv/adapt.json   # attach the adaptive step

Parity (max |logit diff| <= 1e-4, same argmax) is measured on 1,000 DS2 beats drawn with a fixed
seed: a numerical check of the export, not model selection. DS2 metrics come from the evaluation
pipeline's ``ds2_metrics.json`` beside the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ecgdl.export import attach_adapter, export_checkpoint, model_card_tables  # noqa: E402
from ecgdl.paths import MODELS_DIR  # noqa: E402

CARD = ROOT / "docs" / "model_card.md"
BEGIN, END = "<!-- BEGIN GENERATED: pipelines/export.py -->", "<!-- END GENERATED -->"


def write_card(models_dir: Path = MODELS_DIR, card: Path = CARD) -> None:
    """Replace the generated block of the model card with tables from every shipped sidecar."""
    metas = [json.loads(p.read_text()) for p in sorted(models_dir.glob("*.json"))]
    block = f"{BEGIN}\n{model_card_tables(metas)}\n{END}"
    text = card.read_text() if card.is_file() else f"# Model card\n\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    card.write_text(head + block + tail)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, help="runs/<name>/checkpoint.pt")
    p.add_argument("--name", help="shipped model name, e.g. ecgdl_cnn")
    p.add_argument("--out", type=Path, default=MODELS_DIR)
    p.add_argument("--ds2-metrics", type=Path, default=None, help="default: ds2_metrics.json beside the checkpoint")
    p.add_argument("--n-parity", type=int, default=1000)
    p.add_argument("--adapt", type=Path, default=None,
                   help="adaptive step (pipelines/adapt_eval.py --save) to put in <name>.json; alone: no re-export")
    p.add_argument("--card-only", action="store_true", help="only regenerate docs/model_card.md tables")
    a = p.parse_args(argv)
    if a.adapt and not a.checkpoint:
        if not a.name:
            p.error("--adapt needs --name")
        attach_adapter(a.out / f"{a.name}.json", json.loads(a.adapt.read_text()))
        print(f"{a.out / (a.name + '.json')}: adaptive step attached from {a.adapt}")
    elif not a.card_only:
        if not (a.checkpoint and a.name):
            p.error("--checkpoint and --name are required")
        meta = export_checkpoint(a.checkpoint, a.name, a.out, n_parity=a.n_parity, ds2_metrics=a.ds2_metrics)
        par = meta["parity"]
        print(f"{a.out / (a.name + '.onnx')}: {meta['onnx']['bytes'] / 1e6:.2f} MB, sha256 {meta['onnx']['sha256'][:16]}..")
        print(f"parity on {par['n']} DS2 beats: max |logit diff| {par['max_abs_logit_diff']:.3g}, "
              f"argmax agrees on {par['argmax_agree']}/{par['n']}")
        if a.adapt:
            attach_adapter(a.out / f"{a.name}.json", json.loads(a.adapt.read_text()))
        if meta["metrics"]["ds2"] is None:
            print("warning: no ds2_metrics.json found beside the checkpoint; the sidecar has no DS2 metrics")
    if a.out == MODELS_DIR:
        write_card()
        print(f"model card tables updated: {CARD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
