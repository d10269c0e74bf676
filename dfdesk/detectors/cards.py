"""Model cards: what a detector's weights need to be used correctly, stored as ``card.toml``.

A card lives in one folder per model, beside its weights.  It records the architecture
and its constructor options, the input spec, which output means "fake", the decision
threshold, the calibration, the training data, the metrics, the licence and the
weights' SHA-256.  :func:`fake_logit` and :func:`fake_probability` turn a model's native
logits into P(fake), so nothing else in the app has to know a model's polarity.

A card is data from a stranger (a model folder may be downloaded or copied in by hand), so loading one
checks it like any untrusted input: the card file and its folder must not be symbolic links, the weights
file is a bare file name inside the card's folder, every number in the document is finite and in range,
and the calibration keeps P(fake) increasing with the model's fake score.
"""
from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import torch

from dfdesk.core.sampling import MODES as SAMPLING_MODES
from dfdesk.detectors.base import InputSpec

CARD_FILE = "card.toml"
OUTPUT_KINDS = ("sigmoid", "softmax")
SIGMOID_MEANINGS = ("fake", "real")
CALIBRATION_METHODS = ("none", "temperature", "platt")
WEIGHTS_FORMATS = ("safetensors", "onnx")
CROP_KINDS = ("face", "mouth", "landmarks")
MAX_INPUT_SIZE = 4096  # pixels of a square crop
MAX_MARGIN = 2.0  # box dilation, as a fraction of the box side
MAX_FRAMES_PER_CLIP = 1024
MAX_CLASSES = 1000  # largest softmax fake_index + 1 a card may name
MAX_NAME_CHARS = 100
HEX_DIGITS = frozenset("0123456789abcdef")


class CardError(ValueError):
    """A model card is missing, unreadable or inconsistent."""


@dataclass
class Calibration:
    """Maps the raw logit of P(fake) to a calibrated one: ``z / temperature`` or ``a * z + b``."""

    method: str = "none"
    temperature: float = 1.0
    a: float = 1.0
    b: float = 0.0

    def apply(self, logit: torch.Tensor) -> torch.Tensor:
        if self.method == "temperature":
            return logit / self.temperature
        if self.method == "platt":
            return self.a * logit + self.b
        return logit


@dataclass
class ModelCard:
    name: str
    architecture: str
    version: str = "1.0"
    options: dict[str, Any] = field(default_factory=dict)
    input: InputSpec = field(default_factory=InputSpec)
    output_kind: str = "softmax"
    fake_index: int = 1
    sigmoid_means: str = "fake"
    threshold: float = 0.5
    calibration: Calibration = field(default_factory=Calibration)
    trained: bool = False
    weights_file: str = ""
    weights_sha256: str = ""
    weights_format: str = "safetensors"
    training_data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    source: str = ""
    description: str = ""
    created_at: str = ""
    path: Path | None = field(default=None, compare=False)  # the card's folder; not serialised

    @property
    def weights_path(self) -> Path | None:
        """Absolute path of the weights file, or None for a card without weights."""
        if not self.weights_file or self.path is None:
            return None
        return self.path / self.weights_file

    @property
    def needs_training(self) -> bool:
        return not self.trained

    def validate(self) -> None:
        """Raise :class:`CardError` naming the first inconsistent, non-finite or out-of-range field."""
        _check(bool(self.name) and len(self.name) <= MAX_NAME_CHARS and self.name.isprintable(),
               f"field 'name' must be 1 to {MAX_NAME_CHARS} printable characters")
        _check(bool(self.architecture), "field 'architecture' is empty")
        _check_choice("output_kind", self.output_kind, OUTPUT_KINDS)
        _check_choice("sigmoid_means", self.sigmoid_means, SIGMOID_MEANINGS)
        _check_choice("weights_format", self.weights_format, WEIGHTS_FORMATS)
        _check_finite(card_to_dict(self))
        _check(0.0 < self.threshold < 1.0, f"threshold must lie in (0, 1), got {self.threshold}")
        if self.output_kind == "softmax":
            _check(0 <= self.fake_index < MAX_CLASSES, f"fake_index must lie in [0, {MAX_CLASSES}), got "
                   f"{self.fake_index}")
        _validate_calibration(self.calibration)
        _validate_input(self.input)
        _validate_weights(self)


def _validate_calibration(calibration: Calibration) -> None:
    """Only maps that keep P(fake) increasing with the fake score: a flipped slope would invert the verdict."""
    _check_choice("calibration.method", calibration.method, CALIBRATION_METHODS)
    _check(calibration.temperature > 0, "calibration.temperature must be positive")
    _check(calibration.a > 0, f"calibration.a must be positive (P(fake) must rise with the fake score), "
                              f"got {calibration.a}")


def _validate_input(spec: InputSpec) -> None:
    _check_choice("input.crop", spec.crop, CROP_KINDS)
    _check_choice("input.colour", spec.colour, ("rgb", "gray"))
    _check_choice("input.sampling", spec.sampling, SAMPLING_MODES)
    _check(0 < spec.size <= MAX_INPUT_SIZE, f"input.size must lie in [1, {MAX_INPUT_SIZE}], got {spec.size}")
    _check(0.0 <= spec.margin <= MAX_MARGIN, f"input.margin must lie in [0, {MAX_MARGIN}], got {spec.margin}")
    _check(0 < spec.frames_per_clip <= MAX_FRAMES_PER_CLIP,
           f"input.frames_per_clip must lie in [1, {MAX_FRAMES_PER_CLIP}], got {spec.frames_per_clip}")
    _check(len(spec.mean) in (1, 3), "input.mean must hold 1 or 3 values (one per channel)")
    _check(len(spec.mean) == len(spec.std), "input.mean and input.std differ in length")
    _check(all(s > 0 for s in spec.std), "input.std values must be positive")


def _validate_weights(card: ModelCard) -> None:
    """The weights file is a bare name in the card's folder (no folders, no '..', no absolute path)."""
    name = card.weights_file
    if name:
        _check(name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name
               and ":" not in name, f"weights.file must be a file name inside the card's folder, got {name!r}")
    if card.trained:
        _check(bool(name), "a trained card needs 'weights.file'")
        _check(len(card.weights_sha256) == 64 and set(card.weights_sha256) <= HEX_DIGITS,
               "a trained card needs a 64-hex-digit 'weights.sha256'")


def _check_finite(value: Any, where: str = "") -> None:
    """Every number anywhere in the card's document (options and metrics included) is finite."""
    for key, number in _numbers(value, where):
        _check(math.isfinite(number), f"{key or 'a value'} must be a finite number, got {number}")


def _numbers(value: Any, where: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield where, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _numbers(item, f"{where}[{index}]")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise CardError(message)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    _check(value in allowed, f"{name} must be one of {', '.join(allowed)}; got {value!r}")


# --- TOML ------------------------------------------------------------------------------------------

def card_to_dict(card: ModelCard) -> dict[str, Any]:
    """The TOML document of a card (sections: options, input, output, calibration, weights, metrics)."""
    spec = card.input
    return {
        "name": card.name,
        "version": card.version,
        "architecture": card.architecture,
        "trained": card.trained,
        "threshold": card.threshold,
        "description": card.description,
        "training_data": card.training_data,
        "licence": card.licence,
        "source": card.source,
        "created_at": card.created_at,
        "options": dict(card.options),
        "input": {
            "crop": spec.crop, "size": spec.size, "margin": spec.margin, "colour": spec.colour,
            "mean": list(spec.mean), "std": list(spec.std),
            "frames_per_clip": spec.frames_per_clip, "sampling": spec.sampling,
        },
        "output": {"kind": card.output_kind, "fake_index": card.fake_index, "sigmoid_means": card.sigmoid_means},
        "calibration": {
            "method": card.calibration.method, "temperature": card.calibration.temperature,
            "a": card.calibration.a, "b": card.calibration.b,
        },
        "weights": {"file": card.weights_file, "sha256": card.weights_sha256, "format": card.weights_format},
        "metrics": dict(card.metrics),
    }


def card_from_dict(doc: dict[str, Any], path: Path | None = None) -> ModelCard:
    """Build and validate a card from its TOML document."""
    for key in ("name", "architecture", "input"):
        _check(key in doc, f"missing required field {key!r}")
    try:
        output = _table(doc, "output")
        weights = _table(doc, "weights")
        card = ModelCard(
            name=str(doc["name"]),
            architecture=str(doc["architecture"]),
            version=str(doc.get("version", "1.0")),
            options=_table(doc, "options"),
            input=_input_spec(_table(doc, "input")),
            output_kind=str(output.get("kind", "softmax")),
            fake_index=int(output.get("fake_index", 1)),
            sigmoid_means=str(output.get("sigmoid_means", "fake")),
            threshold=float(doc.get("threshold", 0.5)),
            calibration=_calibration(_table(doc, "calibration")),
            trained=_bool(doc.get("trained", False), "trained"),
            weights_file=str(weights.get("file", "")),
            weights_sha256=str(weights.get("sha256", "")).lower(),
            weights_format=str(weights.get("format", "safetensors")),
            training_data=str(doc.get("training_data", "")),
            metrics=_table(doc, "metrics"),
            licence=str(doc.get("licence", "")),
            source=str(doc.get("source", "")),
            description=str(doc.get("description", "")),
            created_at=str(doc.get("created_at", "")),
            path=path,
        )
        card.validate()
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CardError):
            raise
        raise CardError(f"invalid value: {exc}") from None
    return card


def _calibration(table: dict[str, Any]) -> Calibration:
    unknown = sorted(set(table) - {f.name for f in fields(Calibration)})
    _check(not unknown, f"unknown calibration field(s): {', '.join(unknown)}")
    numbers = {key: float(table[key]) for key in ("temperature", "a", "b") if key in table}
    return Calibration(method=str(table.get("method", "none")), **numbers)


def _table(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key, {})
    _check(isinstance(value, dict), f"{key!r} must be a table")
    return dict(value)


def _bool(value: Any, key: str) -> bool:
    _check(isinstance(value, bool), f"{key!r} must be true or false")
    return value


def _input_spec(table: dict[str, Any]) -> InputSpec:
    known = {f.name for f in fields(InputSpec)}
    unknown = sorted(set(table) - known)
    _check(not unknown, f"unknown input field(s): {', '.join(unknown)}")
    spec = InputSpec(**table)
    spec.mean = tuple(float(v) for v in spec.mean)
    spec.std = tuple(float(v) for v in spec.std)
    spec.size = int(spec.size)
    spec.frames_per_clip = int(spec.frames_per_clip)
    spec.margin = float(spec.margin)
    return spec


def load_card(path: str | Path) -> ModelCard:
    """Read a card from its folder or from the ``card.toml`` file itself; symbolic links are refused."""
    path = Path(path)
    file = path / CARD_FILE if path.is_dir() else path
    if file.is_symlink() or file.parent.is_symlink():
        raise CardError(f"{file}: refused: the card or its folder is a symbolic link (a model folder holds its "
                        "own files)")
    if not file.is_file():
        raise CardError(f"no model card at {file}")
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CardError(f"{file}: not a valid TOML file ({exc})") from None
    try:
        return card_from_dict(doc, path=file.parent)
    except CardError as exc:
        raise CardError(f"{file}: {exc}") from None


def save_card(card: ModelCard, folder: str | Path) -> Path:
    """Validate and write ``folder/card.toml``; sets ``card.path``.  Returns the file written."""
    card.validate()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / CARD_FILE
    file.write_text(tomli_w.dumps(card_to_dict(card)), encoding="utf-8")
    card.path = folder
    return file


# --- polarity and calibration ---------------------------------------------------------------------

def fake_logit(card: ModelCard, native_logits: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Logit of P(fake) (before calibration) from native logits shaped (..., K)."""
    z = _as_tensor(native_logits)
    if card.output_kind == "sigmoid":
        if z.shape[-1] != 1:
            raise CardError(f"card {card.name!r}: a sigmoid output has K=1 logits, got K={z.shape[-1]}")
        out = z[..., 0] if card.sigmoid_means == "fake" else -z[..., 0]
    else:
        if not 0 <= card.fake_index < z.shape[-1]:
            raise CardError(f"card {card.name!r}: fake_index {card.fake_index} is outside K={z.shape[-1]}")
        fake = z[..., card.fake_index]
        others = torch.cat([z[..., : card.fake_index], z[..., card.fake_index + 1 :]], dim=-1)
        out = fake - torch.logsumexp(others, dim=-1)
    return _like(out, native_logits)


def fake_probability(card: ModelCard, native_logits: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Calibrated P(fake) in [0, 1] from native logits shaped (..., K)."""
    z = _as_tensor(fake_logit(card, _as_tensor(native_logits)))
    return _like(torch.sigmoid(card.calibration.apply(z)), native_logits)


def _as_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))


def _like(out: torch.Tensor, template: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    return out if isinstance(template, torch.Tensor) else out.numpy()
