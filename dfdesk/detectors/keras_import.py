"""Convert the published MesoNet Keras HDF5 weights into safetensors + model-card folders.

The files are Keras 2.1.5 ``save_weights`` outputs (no model config).  Layers are matched by
kind and creation order (the numeric suffix Keras gives each layer), then transposed:
Conv2D kernels (kh, kw, in, out) -> (out, in, kh, kw), Dense kernels (in, out) -> (out, in),
BatchNorm gamma/beta/moving mean/variance -> weight/bias/running_mean/running_var.

    python -m dfdesk.detectors.keras_import SRC_DIR OUT_DIR
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from dfdesk.detectors.cards import Calibration, ModelCard, save_card
from dfdesk.detectors.mesonet import Meso4, MesoInception4
from dfdesk.detectors.weights import WeightsError, load_into, sha256_file

WEIGHTS_FILE = "model.safetensors"
CARD_VERSION = "1.1"  # 1.1: LeakyReLU after Dense(16) in Meso-4 as in the published code (1.0 had it linear)
SOURCE = "DariusAf/MesoNet (https://github.com/DariusAf/MesoNet), weights/{file}"
LICENCE = "Apache-2.0"
PAPER = "Afchar, Nozick, Yamagishi, Echizen: MesoNet: a Compact Facial Video Forgery Detection Network (WIFS 2018)"


@dataclass(frozen=True)
class PublishedWeights:
    file: str
    folder: str
    architecture: str
    training_data: str


PUBLISHED = (
    PublishedWeights("Meso4_DF.h5", "meso4_df", "mesonet4", "MesoNet authors' Deepfake data set (internet videos)"),
    PublishedWeights("Meso4_F2F.h5", "meso4_f2f", "mesonet4", "FaceForensics Face2Face (Rössler et al. 2018)"),
    PublishedWeights("MesoInception_DF.h5", "mesoinception4_df", "mesoinception4",
                     "MesoNet authors' Deepfake data set (internet videos)"),
    PublishedWeights("MesoInception_F2F.h5", "mesoinception4_f2f", "mesoinception4",
                     "FaceForensics Face2Face (Rössler et al. 2018)"),
)


class KerasImportError(ValueError):
    """An HDF5 file does not hold the MesoNet layers this converter expects."""


def keras_layers(h5: h5py.File) -> dict[str, dict[str, np.ndarray]]:
    """``{layer name: {weight name: array}}`` for every layer holding weights."""
    if "layer_names" not in h5.attrs:
        raise KerasImportError("not a Keras save_weights HDF5 file (no 'layer_names' attribute)")
    layers = {}
    for raw in h5.attrs["layer_names"]:
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        group = h5[name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        if names:
            layers[name] = {n.split("/")[-1].split(":")[0]: np.asarray(group[n]) for n in names}
    return layers


def _by_creation(layers: dict[str, dict[str, np.ndarray]], kind: str) -> list[dict[str, np.ndarray]]:
    pattern = re.compile(rf"^{kind}_(\d+)$")
    found = sorted((int(m.group(1)), name) for name in layers if (m := pattern.match(name)))
    return [layers[name] for _, name in found]


def keras_to_state_dict(model: nn.Module, layers: dict[str, dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Map Keras layers onto ``model``'s Conv2d, BatchNorm2d and Linear modules in creation order."""
    state: dict[str, torch.Tensor] = {}
    for torch_type, kind in ((nn.Conv2d, "conv2d"), (nn.BatchNorm2d, "batch_normalization"), (nn.Linear, "dense")):
        modules = [(name, m) for name, m in model.named_modules() if isinstance(m, torch_type)]
        keras = _by_creation(layers, kind)
        if len(modules) != len(keras):
            raise KerasImportError(f"{len(keras)} Keras {kind} layers, the PyTorch model has {len(modules)}")
        for (name, _), weights in zip(modules, keras):
            state.update({f"{name}.{k}": v for k, v in _convert(kind, weights).items()})
    for name, buffer in model.state_dict().items():
        if name.endswith("num_batches_tracked"):
            state[name] = buffer.clone()
    return state


def _convert(kind: str, w: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731
    if kind == "conv2d":
        return {"weight": t(w["kernel"].transpose(3, 2, 0, 1)), "bias": t(w["bias"])}
    if kind == "dense":
        return {"weight": t(w["kernel"].T), "bias": t(w["bias"])}
    return {"weight": t(w["gamma"]), "bias": t(w["beta"]),
            "running_mean": t(w["moving_mean"]), "running_var": t(w["moving_variance"])}


# The authors' classifiers.py puts LeakyReLU(0.1) after Dense(16) in both networks, and their example.py
# loads every published file into those classes.  Meso4's HDF5 layer list has no leaky_re_lu entry (the
# file was saved from an earlier script), but Keras' load_weights matches weight-bearing layers only, so
# the published code runs these weights with LeakyReLU; the reference figures agree (docs/DETECTORS.md).
PUBLISHED_HIDDEN_ACTIVATION = "leaky_relu"


def convert_file(src: Path, spec: PublishedWeights, out_dir: Path) -> ModelCard:
    """Convert one HDF5 file into ``out_dir/spec.folder`` (weights + card.toml)."""
    try:
        with h5py.File(src, "r") as h5:
            layers = keras_layers(h5)
    except OSError as exc:
        raise KerasImportError(f"{src.name}: not a readable HDF5 file ({exc})") from None
    options = {"hidden_activation": PUBLISHED_HIDDEN_ACTIVATION, "clip_pool": "logit_mean"}
    model = (Meso4 if spec.architecture == "mesonet4" else MesoInception4)(**options)
    state = keras_to_state_dict(model, layers)
    load_into(model, state, label=src.name)  # proves the mapping fits before anything is written
    folder = out_dir / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    save_file(state, str(folder / WEIGHTS_FILE))
    (folder / WEIGHTS_FILE).chmod(0o644)
    card = _card(spec, options, sha256_file(folder / WEIGHTS_FILE))
    save_card(card, folder)
    return card


def _card(spec: PublishedWeights, options: dict, sha: str) -> ModelCard:
    input_spec = Meso4.default_input()
    return ModelCard(
        name=spec.folder, version=CARD_VERSION, architecture=spec.architecture, options=options, input=input_spec,
        output_kind="sigmoid", sigmoid_means="real", fake_index=0, threshold=0.5, calibration=Calibration(),
        trained=True, weights_file=WEIGHTS_FILE, weights_sha256=sha, weights_format="safetensors",
        training_data=spec.training_data, licence=LICENCE, source=SOURCE.format(file=spec.file),
        description=(
            f"{PAPER}. Converted from the Keras 2.1.5 HDF5 file {spec.file} by dfdesk.detectors.keras_import "
            "(h5py; Conv2D kernels HWIO->OIHW, Dense kernels transposed, Keras channels-last flatten kept, "
            "BatchNorm eps 1e-3, LeakyReLU 0.1 after Dense(16) as in the authors' classifiers.py). "
            "The sigmoid output means REAL near 1. A floor, not a verdict engine: "
            "it misses FaceSwap and Face2Face on FaceForensics++."
        ),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def convert_all(src_dir: Path, out_dir: Path) -> list[ModelCard]:
    """Convert every published file found in ``src_dir``; a missing file is an error."""
    missing = [s.file for s in PUBLISHED if not (src_dir / s.file).is_file()]
    if missing:
        raise KerasImportError(f"{src_dir} lacks {', '.join(missing)}")
    return [convert_file(src_dir / s.file, s, out_dir) for s in PUBLISHED]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Convert MesoNet Keras HDF5 weights to dfdesk model folders.")
    parser.add_argument("src_dir", type=Path, help="folder holding Meso4_DF.h5, Meso4_F2F.h5, MesoInception_*.h5")
    parser.add_argument("out_dir", type=Path, help="where the model folders are written (e.g. models/)")
    args = parser.parse_args(argv)
    try:
        cards = convert_all(args.src_dir, args.out_dir)
    except (KerasImportError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for card in cards:
        print(f"{card.name}: {card.architecture} {card.options} sha256={card.weights_sha256[:16]}… -> {card.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
