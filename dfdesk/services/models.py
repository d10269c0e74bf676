"""Installed models: the bundled ``models/`` folder plus the per-user models folder.

Each model is a folder holding ``card.toml`` and its weights.  Bundled models ship with the
app; trained and imported models go to :func:`dfdesk.paths.user_models_dir`.

A model folder is untrusted input.  Scanning skips, with a warning naming the folder, every card that does not
validate (see :mod:`dfdesk.detectors.cards`), every folder that is a symbolic link, and, once the installation
has an admin (:mod:`dfdesk.services.installation`), every user-folder model without a valid registration: a
``registration.json`` beside the card, signed with the installation's key, that binds the model's name to the
SHA-256 of its card and of its weights.  :func:`import_model` and :func:`register_model` write it, and need an
:class:`~dfdesk.services.installation.AdminGrant` once the installation has an admin.  An imported ONNX graph is
size-checked, checked for enormous constants and run on a probe input before it is installed, so one broken
model is refused at import instead of failing later analyses.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from dfdesk import paths
from dfdesk.detectors import build_detector, create_detector, detector_class, list_detectors
from dfdesk.detectors.base import InputSpec, clip_shape
from dfdesk.detectors.cards import CARD_FILE, CardError, ModelCard, load_card, save_card
from dfdesk.detectors.model_folders import (
    FoundModels,
    ModelFolderError,
    name_taken,
    new_model_folder,
    read_model_folders,
)
from dfdesk.detectors.onnx_export import ExportResult, OnnxExportError
from dfdesk.detectors.onnx_export import export_onnx as export_detector
from dfdesk.detectors.weights import (
    WeightsError,
    check_state_dict,
    import_checkpoint,
    read_safetensors,
    sha256_file,
    verified_weights_path,
)
from dfdesk.services import installation, signing
from dfdesk.services.installation import AdminGrant
from dfdesk.services.profiles import ProfileError

log = logging.getLogger(__name__)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
REGISTRATION_FILE = "registration.json"


class ModelStoreError(ValueError):
    """A model cannot be found, imported or exported; the message says why."""


def scan_installed() -> FoundModels:
    """Every usable card, plus a problem entry for each unreadable, unregistered or duplicate one (the folders are
    read by :mod:`dfdesk.detectors.model_folders`; user-folder models need an admin's registration once the
    installation has an admin)."""
    return read_model_folders(check_registration if installation.has_admin() else None)


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
    grant: AdminGrant | None = None,
) -> ModelCard:
    """Install weights (safetensors, a PyTorch checkpoint, or ONNX) with a card in the user models folder.

    An ONNX file written by :func:`export_onnx` carries its card's polarity and input spec in its
    metadata (``dfdesk.card``); they are used unless given here.  Otherwise a sigmoid means "fake".
    Once the installation has an admin, ``grant`` must come from that admin's login
    (:func:`dfdesk.services.installation.grant_admin`).
    """
    admin = _authorised(grant, "installing a model")
    src = Path(weights_path)
    if not src.is_file():
        raise ModelStoreError(f"weights file {src} does not exist")
    _check_new_name(name)
    if src.suffix.lower() == ".onnx":
        _check_onnx(src)  # size and constants before anything else reads the file
    cls = _architecture(architecture)
    options = dict(options or {})
    exported = _exported_card(src, architecture)
    if exported is not None:
        input_spec = input_spec or exported.input
        fake_index = exported.fake_index if fake_index is None else fake_index
        sigmoid_means = sigmoid_means or exported.sigmoid_means
        options = options or dict(exported.options)
    sigmoid_means = sigmoid_means or "fake"
    with _new_folder(name) as staging:
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
            card.path = staging
            _write_registration(card, admin)
        except (CardError, WeightsError) as exc:
            raise ModelStoreError(f"cannot import {src.name}: {exc}") from None
    final = paths.user_models_dir() / name
    installation.record(admin, "model.install", name=name, architecture=architecture,
                        weights_sha256=card.weights_sha256, source=str(src))
    return load_card(final)


# --- registration: which user-folder models an admin installed ---------------------------------------

def register_model(name: str, grant: AdminGrant | None = None) -> ModelCard:
    """Register a model already in the user models folder (trained here, or copied in by an admin)."""
    admin = _authorised(grant, "registering a model")
    folder = paths.user_models_dir() / name
    if folder.is_symlink() or not (folder / CARD_FILE).is_file():
        raise ModelStoreError(f"no model folder named {name!r} in {paths.user_models_dir()}")
    try:
        card = load_card(folder)
        if card.trained:
            verified_weights_path(card)
        _write_registration(card, admin)
    except (CardError, WeightsError) as exc:
        raise ModelStoreError(f"cannot register {name!r}: {exc}") from None
    installation.record(admin, "model.register", name=card.name, weights_sha256=card.weights_sha256)
    return card


def check_registration(card: ModelCard) -> None:
    """Raise CardError unless the card's folder holds a registration, signed by a key this installation
    trusts, of exactly this card and these weights."""
    file = card.path / REGISTRATION_FILE
    if file.is_symlink() or not file.is_file():
        raise CardError("not registered by an admin of this installation (copied in by hand?); ignored. An admin "
                        f"can register it: dfdesk models register {card.name}")
    try:
        entry = json.loads(file.read_text(encoding="utf-8"))
        body, signer, signature = entry["registration"], entry["signer"], entry["signature"]
    except (OSError, ValueError, KeyError, TypeError):
        body = signer = signature = None
    if not (isinstance(body, dict) and isinstance(signer, str) and isinstance(signature, str)):
        raise CardError(f"{REGISTRATION_FILE} is unreadable; ignored")
    if signing.check(_registration_message(body), signer, signature) is not True:
        raise CardError(f"{REGISTRATION_FILE} is not signed by this installation; ignored")
    if body != _registration_body(card, body.get("registered_by", ""), body.get("at", "")):
        raise CardError("the card or its weights changed since an admin registered them; ignored")


def _write_registration(card: ModelCard, admin: str) -> None:
    body = _registration_body(card, admin, datetime.now(UTC).isoformat(timespec="seconds"))
    signer, signature = signing.sign(_registration_message(body))
    doc = {"registration": body, "signer": signer, "signature": signature}
    (card.path / REGISTRATION_FILE).write_text(json.dumps(doc, indent=2, sort_keys=True), encoding="utf-8")


def _registration_body(card: ModelCard, admin: str, at: str) -> dict[str, str]:
    return {"name": card.name, "card_sha256": sha256_file(card.path / CARD_FILE),
            "weights_sha256": card.weights_sha256, "registered_by": admin, "at": at}


def _registration_message(body: dict) -> bytes:
    return b"dfdesk model registration\n" + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _authorised(grant: AdminGrant | None, action: str) -> str:
    try:
        return installation.require_grant(grant, action)
    except ProfileError as exc:
        raise ModelStoreError(str(exc)) from None


def _check_new_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise ModelStoreError(f"model name {name!r} must be lower-case letters, digits, '_', '-' or '.'")
    if name_taken(name):
        raise ModelStoreError(f"a model named {name!r} is already installed")


@contextmanager
def _new_folder(name: str) -> Iterator[Path]:
    try:
        with new_model_folder(name) as staging:
            yield staging
    except ModelFolderError as exc:
        raise ModelStoreError(str(exc)) from None


def _architecture(architecture: str):
    try:
        return detector_class(architecture)
    except KeyError as exc:
        raise ModelStoreError(exc.args[0]) from None


def _install_weights(src: Path, folder: Path, architecture: str, options: dict) -> tuple[str, str]:
    suffix = src.suffix.lower()
    try:
        if suffix == ".onnx":
            shutil.copyfile(src, folder / "model.onnx")
            _check_onnx(folder / "model.onnx")  # the copy is what gets installed: check it, not the source
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
    """Size, external data and constants first (without parsing a file over the limit), then ONNX's checker."""
    import onnx

    from dfdesk.detectors.onnx_runtime import MAX_ONNX_BYTES, check_onnx_bytes

    try:
        size = path.stat().st_size
        if size > MAX_ONNX_BYTES:
            raise ModelStoreError(f"{path.name}: {size:,} bytes is over the {MAX_ONNX_BYTES:,}-byte limit for a model")
        check_onnx_bytes(path.read_bytes(), path.name)
        onnx.checker.check_model(str(path))
    except WeightsError as exc:
        raise ModelStoreError(f"cannot import {path.name}: {exc}") from None
    except (onnx.checker.ValidationError, OSError, ValueError) as exc:
        raise ModelStoreError(f"{path.name} is not a valid ONNX model ({str(exc).splitlines()[0]})") from None


def _check_onnx_fits(card: ModelCard, path: Path, frame_level: bool) -> None:
    """The graph's inputs and outputs fit the card and it runs on a probe input (the same checks as at every
    load), so a graph that breaks when run is refused here rather than failing every later analysis."""
    from dfdesk.detectors.onnx_runtime import check_graph, open_session, probe

    session = open_session(str(path), card)
    probe(card, session, check_graph(card, session, frame_level))


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
        example = torch.rand(2, *clip_shape(card.input))  # (B, T, C, H, W) crops or (B, T, 136) landmarks
        result = export_detector(detector, example, out_path)
        _record_card(result.path, card)
        return result
    except (CardError, WeightsError, OnnxExportError) as exc:
        raise ModelStoreError(f"cannot export {name!r}: {exc}") from None
