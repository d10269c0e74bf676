"""Convert the authors' LRNet PyTorch checkpoints (g1.pth, g2.pth per weight set) into dfdesk model folders.

Each set becomes ``OUT_DIR/lrnet_<set>/`` with ``model.safetensors`` (both streams, keys renamed to
:mod:`dfdesk.detectors.lrnet`'s), ``card.toml`` and the authors' MIT ``LICENSE``.  The checkpoints are read with
``torch.load(weights_only=True)`` (plain tensors only, no pickled code) and loaded strictly into the architecture
before anything is written.

    .venv/bin/python scripts/convert_lrnet.py [SRC_DIR] [OUT_DIR]

SRC_DIR holds ``demo/``, ``ffpp/`` and ``LICENSE`` (default: ../shared/data/weights/lrnet); OUT_DIR defaults to
the repository's ``models/``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import torch
from safetensors.torch import save_file

from dfdesk import paths
from dfdesk.detectors import build_detector
from dfdesk.detectors.cards import ModelCard, save_card
from dfdesk.detectors.lrnet import LRNet
from dfdesk.detectors.weights import load_into, sha256_file

WEIGHTS_FILE = "model.safetensors"
SOURCE = "frederickszk/LRNet at commit 9a172a0c (https://github.com/frederickszk/LRNet), {paths}"
PAPER = ("Sun, Han, Shan, Chen: Improving the Efficiency and Robustness of Deepfakes Detection through Precise "
         "Geometric Features (CVPR 2021)")
# the authors' module names (demo/utils/model.py) -> dfdesk.detectors.lrnet.LandmarkStream's
KEY_PREFIXES = (("hidden_state", "initial_hidden"), ("gru.", "gru."), ("dense.1.fn.net.", "residual."),
                ("dense.3.", "head."))


@dataclass(frozen=True)
class WeightSet:
    folder: str  # under SRC_DIR
    name: str  # the model's name in dfdesk
    source_paths: str
    training_data: str
    note: str


WEIGHT_SETS = (
    WeightSet("demo", "lrnet_demo", "demo/model_weights/g1.pth, g2.pth",
              "DeeperForensics-1.0",
              "The authors' demo weights, trained on DeeperForensics-1.0; the authors ship them in their demo "
              "because they generalise better than the FaceForensics++ ones."),
    WeightSet("ffpp", "lrnet_ffpp", "training/weights/torch/g1.pth, g2.pth",
              "FaceForensics++ (all four methods: Deepfakes, Face2Face, FaceSwap, NeuralTextures)",
              "The authors' training weights, trained on FaceForensics++ with all four manipulation methods."),
)


def renamed(state: dict[str, torch.Tensor], stream: str) -> dict[str, torch.Tensor]:
    """The authors' keys of one stream -> ``<stream>.<dfdesk key>``; an unknown key is an error."""
    out = {}
    for key, tensor in state.items():
        match = next(((theirs, ours) for theirs, ours in KEY_PREFIXES if key.startswith(theirs)), None)
        if match is None:
            raise ValueError(f"unexpected key {key!r} in the {stream} checkpoint")
        out[f"{stream}.{match[1]}{key[len(match[0]):]}"] = tensor.detach().clone().contiguous()
    return out


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a plain state dict")
    return state


def convert(src: Path, weights: WeightSet, out_dir: Path) -> ModelCard:
    """Write one model folder; returns its card."""
    state = {**renamed(read_checkpoint(src / weights.folder / "g1.pth"), "g1"),
             **renamed(read_checkpoint(src / weights.folder / "g2.pth"), "g2")}
    load_into(build_detector("lrnet"), state, label=f"LRNet {weights.folder} weights")
    folder = out_dir / weights.name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / WEIGHTS_FILE))
    (folder / WEIGHTS_FILE).chmod(0o644)  # safetensors writes 0600; the bundled models are world-readable
    shutil.copyfile(src / "LICENSE", folder / "LICENSE")
    card = _card(weights, sha256_file(folder / WEIGHTS_FILE))
    save_card(card, folder)
    return card


def _card(weights: WeightSet, sha: str) -> ModelCard:
    return ModelCard(
        name=weights.name, architecture="lrnet", version="1.0", options={}, input=LRNet.default_input(),
        output_kind="softmax", fake_index=LRNet.default_fake_index, threshold=0.5, trained=True,
        weights_file=WEIGHTS_FILE, weights_sha256=sha, weights_format="safetensors",
        training_data=weights.training_data, licence="MIT", source=SOURCE.format(paths=weights.source_paths),
        description=(
            f"{PAPER}. {weights.note} Two bidirectional GRU streams over 30-frame blocks of 68 calibrated, "
            "normalised landmarks (g1: positions, g2: frame-to-frame differences); a block's P(fake) is the mean "
            "of the two streams' softmax output 1. Converted by scripts/convert_lrnet.py from the authors' "
            "PyTorch checkpoints (keys renamed, values unchanged)."
        ),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def main(argv: list[str] | None = None) -> int:
    shared = paths.shared_data_dir()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path,
                        default=shared / "weights" / "lrnet" if shared else None)
    parser.add_argument("out", nargs="?", type=Path, default=paths.bundled_models_dir())
    args = parser.parse_args(argv)
    if args.src is None or not args.src.is_dir():
        print(f"convert_lrnet: no LRNet weights folder at {args.src}", file=sys.stderr)
        return 2
    for weights in WEIGHT_SETS:
        card = convert(args.src, weights, args.out)
        print(f"{card.name}: {args.out / card.name / WEIGHTS_FILE} sha256 {card.weights_sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
