"""Held-out pseudo-fake figures of SBI weights on a training config's validation people.

    .venv/bin/python bench/sbi_val.py CONFIG.toml RUN_DIR [RUN_DIR ...]

Each run's ``best.pt`` is scored on the validation faces that CONFIG's run holds out (its face folder, its
``val_faces_per_file``, the fixed evaluation pseudo-fakes and degradations), so runs trained on different face
extractions are compared on one and the same held-out set: the rule by which a run is chosen, decided before any
labelled clip is scored.  The faces must have been extracted (by the config's run).  Prints the pseudo-fake AUC
per frame and per clip and the frame BCE.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()

    import torch

    from trainer.cli import build_model
    from trainer.config import load_config
    from trainer.evaluate import predict
    from trainer.loop import BEST_FILE
    from trainer.sbi_train import _samples, run_faces_folder, sbi_dataset, validation_metrics

    config = load_config(args.config)
    files, split = sbi_dataset(config)
    model, card = build_model(config)
    folder, _crop, _settings = run_faces_folder(config, card.input, Path(config.checkpoint_dir), resume=True)
    _, val = _samples(config, card, files, split, folder)
    print(f"validation set: {len(val.bank)} faces of {len({f for f in val.bank.files})} files ({folder.name})")
    for run in args.runs:
        model.load_state_dict(torch.load(run / BEST_FILE, map_location="cpu", weights_only=True))
        found = validation_metrics(predict(model.eval(), card, val, torch.device("cpu"), 16))
        print(json.dumps({"run": str(run), **{k: round(v, 4) for k, v in found.items()}}))


if __name__ == "__main__":
    main()
