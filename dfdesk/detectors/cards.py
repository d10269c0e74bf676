"""Model cards: what a detector's weights need to be used correctly, stored as ``card.toml``.

A card lives in one folder per model, beside its weights.  It records the architecture
and its constructor options, the input spec, which output means "fake", the decision
threshold, the calibration, the training data, the metrics, the licence and the
weights' SHA-256.  :func:`fake_logit` and :func:`fake_probability` turn a model's native
logits into P(fake), so nothing else in the app has to know a model's polarity.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
import torch

from dfdesk.detectors.base import InputSpec

CARD_FILE = "card.toml"
OUTPUT_KINDS = ("sigmoid", "softmax")
SIGMOID_MEANINGS = ("fake", "real")
CALIBRATION_METHODS = ("none", "temperature", "platt")
WEIGHTS_FORMATS = ("safetensors", "onnx")


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
        """Raise :class:`CardError` naming the first inconsistent field."""
        _check(bool(self.name), "field 'name' is empty")
        _check(bool(self.architecture), "field 'architecture' is empty")
        _check_choice("output_kind", self.output_kind, OUTPUT_KINDS)
        _check_choice("sigmoid_means", self.sigmoid_means, SIGMOID_MEANINGS)
        _check_choice("calibration.method", self.calibration.method, CALIBRATION_METHODS)
        _check_choice("weights_format", self.weights_format, WEIGHTS_FORMATS)
        _check_choice("input.colour", self.input.colour, ("rgb", "gray"))
        _check(0.0 < self.threshold < 1.0, f"threshold must lie in (0, 1), got {self.threshold}")
        _check(self.calibration.temperature > 0, "calibration.temperature must be positive")
        _check(self.input.size > 0, "input.size must be positive")
        _check(self.input.frames_per_clip > 0, "input.frames_per_clip must be positive")
        _check(len(self.input.mean) == len(self.input.std), "input.mean and input.std differ in length")
        _check(all(s > 0 for s in self.input.std), "input.std values must be positive")
        if self.output_kind == "softmax":
            _check(self.fake_index >= 0, "fake_index must be >= 0")
        if self.trained:
            _check(bool(self.weights_file), "a trained card needs 'weights.file'")
            _check(len(self.weights_sha256) == 64, "a trained card needs a 64-hex-digit 'weights.sha256'")


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
            calibration=Calibration(**_table(doc, "calibration")),
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
    except (TypeError, ValueError) as exc:
        if isinstance(exc, CardError):
            raise
        raise CardError(f"invalid value: {exc}") from None
    card.validate()
    return card


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
    """Read a card from its folder or from the ``card.toml`` file itself."""
    path = Path(path)
    file = path / CARD_FILE if path.is_dir() else path
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
