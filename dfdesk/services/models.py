"""Installed models: the bundled ``models/`` folder plus the per-user models folder.

Each model is a folder holding ``card.toml`` and its weights.  Bundled models ship with the
app; trained and imported models go to :func:`dfdesk.paths.user_models_dir`.
"""
from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from dfdesk import paths
from dfdesk.detectors import build_detector, create_detector, detector_class, list_detectors
from dfdesk.detectors.base import InputSpec
from dfdesk.detectors.cards import CARD_FILE, CardError, ModelCard, load_card, save_card
from dfdesk.detectors.onnx_export import ExportResult, OnnxExportError
from dfdesk.detectors.onnx_export import export_onnx as export_detector
from dfdesk.detectors.weights import WeightsError, check_state_dict, import_checkpoint, read_safetensors, sha256_file

log = logging.getLogger(__name__)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")


class ModelStoreError(ValueError):
    """A model cannot be found, imported or exported; the message says why."""


@dataclass(frozen=True)
class CardProblem:
    path: Path
    message: str


@dataclass
class InstalledModels:
    cards: list[ModelCard] = field(default_factory=list)
    problems: list[CardProblem] = field(default_factory=list)


def model_dirs() -> list[Path]:
    """Where models are looked for: bundled first, then the user's folder."""
    return [paths.bundled_models_dir(), paths.user_models_dir()]


def scan_installed() -> InstalledModels:
    """Every readable card, plus a problem entry for each unreadable card or duplicate name."""
    found = InstalledModels()
    names: set[str] = set()
    for root in model_dirs():
        for card_file in sorted(root.glob(f"*/{CARD_FILE}")) if root.is_dir() else []:
            try:
                card = load_card(card_file)
            except CardError as exc:
                found.problems.append(CardProblem(card_file.parent, str(exc)))
                continue
            if card.name in names:
                found.problems.append(CardProblem(card_file.parent, f"duplicate model name {card.name!r}; ignored"))
                continue
            names.add(card.name)
            found.cards.append(card)
    return found


def list_installed() -> list[ModelCard]:
    """Installed model cards sorted by name; unreadable cards are logged and skipped."""
    found = scan_installed()
    for problem in found.problems:
        log.warning("model folder %s skipped: %s", problem.path, problem.message)
    return sorted(found.cards, key=lambda c: c.name)


def find_model(name: str) -> ModelCard:
    for card in list_installed():
        if card.name == name:
            return card
    known = ", ".join(c.name for c in list_installed()) or "none"
    raise ModelStoreError(f"no installed model named {name!r} (installed: {known})")


def untrained_card(architecture: str, **options: Any) -> ModelCard:
    """A card for a randomly initialised architecture; listed as "needs training", never a verdict."""
    cls = _architecture(architecture)
    return ModelCard(
        name=f"{architecture} (untrained)", architecture=architecture, options=dict(options),
        input=cls.default_input(), output_kind=cls.output_kind, fake_index=cls.default_fake_index,
        sigmoid_means="fake", trained=False, description="Architecture without trained weights: needs training.",
    )


def untrained_cards() -> list[ModelCard]:
    """One untrained card per registered architecture that has no trained model installed."""
    trained = {c.architecture for c in list_installed() if c.trained}
    return [untrained_card(a) for a in list_detectors() if a not in trained]


def import_model(
    weights_path: str | Path,
    architecture: str,
    name: str,
    *,
    options: dict[str, Any] | None = None,
    input_spec: InputSpec | None = None,
    fake_index: int | None = None,
    sigmoid_means: str | None = None,
    threshold: float = 0.5,
    training_data: str = "",
    licence: str = "",
    source: str = "",
    description: str = "",
    metrics: dict[str, Any] | None = None,
) -> ModelCard:
    """Install weights (safetensors, a PyTorch checkpoint, or ONNX) with a card in the user models folder.

    An ONNX file written by :func:`export_onnx` carries its card's polarity and input spec in its
    metadata (``dfdesk.card``); they are used unless given here.  Otherwise a sigmoid means "fake".
    """
    src = Path(weights_path)
    if not src.is_file():
        raise ModelStoreError(f"weights file {src} does not exist")
    _check_new_name(name)
    cls = _architecture(architecture)
    options = dict(options or {})
    exported = _exported_card(src, architecture)
    if exported is not None:
        input_spec = input_spec or exported.input
        fake_index = exported.fake_index if fake_index is None else fake_index
        sigmoid_means = sigmoid_means or exported.sigmoid_means
        options = options or dict(exported.options)
    sigmoid_means = sigmoid_means or "fake"
    with tempfile.TemporaryDirectory(dir=paths.user_models_dir(), prefix=".import-") as tmp:
        staging = Path(tmp) / name
        staging.mkdir()
        weights_file, fmt = _install_weights(src, staging, architecture, options)
        card = ModelCard(
            name=name, architecture=architecture, options=options, input=input_spec or cls.default_input(),
            output_kind=cls.output_kind, fake_index=cls.default_fake_index if fake_index is None else fake_index,
            sigmoid_means=sigmoid_means, threshold=threshold, trained=True, weights_file=weights_file,
            weights_sha256=sha256_file(staging / weights_file), weights_format=fmt, training_data=training_data,
            metrics=dict(metrics or {}), licence=licence, source=source or f"imported from {src.name}",
            description=description, created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        try:
            if fmt == "onnx":
                _check_onnx_fits(card, staging / weights_file, cls.frame_level)
            save_card(card, staging)
        except (CardError, WeightsError) as exc:
            raise ModelStoreError(f"cannot import {src.name}: {exc}") from None
        final = paths.user_models_dir() / name
        shutil.move(str(staging), final)
    return load_card(final)


def _check_new_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ModelStoreError(f"model name {name!r} must be lower-case letters, digits, '_', '-' or '.'")
    if any(c.name == name for c in list_installed()) or (paths.user_models_dir() / name).exists():
        raise ModelStoreError(f"a model named {name!r} is already installed")


def _architecture(architecture: str):
    try:
        return detector_class(architecture)
    except KeyError as exc:
        raise ModelStoreError(exc.args[0]) from None


def _install_weights(src: Path, folder: Path, architecture: str, options: dict) -> tuple[str, str]:
    suffix = src.suffix.lower()
    try:
        if suffix == ".onnx":
            _check_onnx(src)
            shutil.copyfile(src, folder / "model.onnx")
            return "model.onnx", "onnx"
        dst = folder / "model.safetensors"
        if suffix == ".safetensors":
            shutil.copyfile(src, dst)
        elif suffix in CHECKPOINT_SUFFIXES:
            import_checkpoint(src, dst)
        else:
            raise ModelStoreError(f"{src.name}: unsupported weights format (use .safetensors, .pt/.pth or .onnx)")
        _check_fits(dst, architecture, options, src.name)
        return dst.name, "safetensors"
    except WeightsError as exc:
        raise ModelStoreError(f"cannot import {src.name}: {exc}") from None


def _check_fits(weights: Path, architecture: str, options: dict, label: str) -> None:
    try:
        model = build_detector(architecture, **options)
    except (TypeError, ValueError) as exc:
        raise ModelStoreError(f"options do not fit {architecture!r}: {exc}") from None
    check_state_dict(model, read_safetensors(weights), label=label)


def _check_onnx(path: Path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise ModelStoreError(f"{path.name} is not a valid ONNX model ({str(exc).splitlines()[0]})") from None


def _check_onnx_fits(card: ModelCard, path: Path, frame_level: bool) -> None:
    """The graph's inputs and outputs fit the card (the same check as at every load)."""
    from dfdesk.detectors.onnx_runtime import check_graph, open_session

    check_graph(card, open_session(str(path), card), frame_level)


CARD_METADATA_KEY = "dfdesk.card"


def _exported_card(src: Path, architecture: str) -> ModelCard | None:
    """The card recorded in an ONNX file by :func:`export_onnx`, when it is one of ``architecture``."""
    if src.suffix.lower() != ".onnx":
        return None
    import json

    import onnx

    from dfdesk.detectors.cards import card_from_dict

    try:
        props = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
        card = card_from_dict(json.loads(props[CARD_METADATA_KEY]))
    except Exception:  # noqa: BLE001 - no or unreadable metadata: plain defaults; a bad file fails the import's checks
        return None
    return card if card.architecture == architecture else None


def _record_card(path: Path, card: ModelCard) -> None:
    """Write the card (without weights and metrics) into the ONNX file's metadata."""
    import json

    import onnx

    from dfdesk.detectors.cards import card_to_dict

    doc = card_to_dict(card)
    doc["trained"], doc["weights"], doc["metrics"] = False, {}, {}
    model = onnx.load(str(path))
    del model.metadata_props[:]
    model.metadata_props.add(key=CARD_METADATA_KEY, value=json.dumps(doc))
    onnx.save(model, str(path))


def export_onnx(name: str, out_path: str | Path) -> ExportResult:
    """Export an installed (trained, PyTorch-format) model to ONNX with a dynamic batch axis.

    The card's input spec, polarity and options go into the file's metadata, so that importing the
    file again gives an equivalent card.
    """
    card = find_model(name)
    if not card.trained:
        raise ModelStoreError(f"model {name!r} needs training; there is nothing to export")
    if card.weights_format == "onnx":
        raise ModelStoreError(f"model {name!r} is already ONNX: {card.weights_path}")
    try:
        detector = create_detector(card)
        spec = card.input
        example = torch.rand(2, spec.frames_per_clip, len(spec.mean), spec.size, spec.size)
        result = export_detector(detector, example, out_path)
        _record_card(result.path, card)
        return result
    except (CardError, WeightsError, OnnxExportError) as exc:
        raise ModelStoreError(f"cannot export {name!r}: {exc}") from None
