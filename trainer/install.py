"""Installed models for the trainer: find the one to fine-tune, and install a newly trained one.

A trained model becomes a folder in :func:`dfdesk.paths.user_models_dir` holding ``model.safetensors`` and
``card.toml`` (``trained = true``, the weights' SHA-256, threshold, calibration, metrics and a description of the
training data), and ``training_files.json`` (the SHA-256 of every file it was trained or validated on, from which
``dfdesk.services.training_provenance`` tells whether an evidence file was among them), written in a hidden
staging folder first and renamed into place, so the model manager never sees half a model: the product's model
store (:mod:`dfdesk.detectors.model_folders`) finds and places the folders.  (The trainer may not import
dfdesk.services, so it restates the training-files record's format.)  The model is
installed *disabled*: ``dfdesk train`` registers it, and an admin enables it after reviewing its figures.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from dfdesk import paths
from dfdesk.detectors.cards import Calibration, CardError, ModelCard, load_card, save_card
from dfdesk.detectors.model_folders import ModelFolderError, name_taken, new_model_folder, read_model_folders
from dfdesk.detectors.weights import sha256_file

WEIGHTS_FILE = "model.safetensors"
TRAINING_FILES = "training_files.json"  # read by dfdesk.services.training_provenance (RECORD_FILE, format 1)
TRAINING_FILES_FORMAT = 1


class InstallError(ValueError):
    """The model to start from is not installed, or the trained model cannot be installed."""


def installed_cards() -> list[ModelCard]:
    """Readable cards in the bundled and the user models folders (the product's model store,
    :mod:`dfdesk.detectors.model_folders`; unreadable and duplicate ones are skipped)."""
    return read_model_folders().cards


def find_installed_card(name: str) -> ModelCard:
    cards = installed_cards()
    for card in cards:
        if card.name == name:
            return card
    known = ", ".join(sorted(c.name for c in cards)) or "none"
    raise InstallError(f"no installed model named {name!r} (installed: {known})")


def unique_name(base: str, now: datetime | None = None) -> str:
    """``<base>-ft-<UTC timestamp>``, lower-case, with a counter if that name is taken."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^a-z0-9_.-]+", "-", f"{base.lower()}-ft-{stamp}").strip("-.")[:60]
    name, counter = stem, 2
    while name_taken(name):
        name, counter = f"{stem}-{counter}", counter + 1
    return name


def install_trained(state: dict[str, torch.Tensor], card: ModelCard, *, name: str, threshold: float,
                    calibration: Calibration, metrics: dict[str, Any], training_data: str,
                    description: str = "", training_files: Iterable[dict] | None = None) -> ModelCard:
    """Write weights and card (and, when given, the ``training_files`` record: entries of
    :func:`training_file_entries`) into the user models folder; returns the card as read back from disk."""
    new_card = replace(card, name=name, trained=True, threshold=_open_unit(threshold), calibration=calibration,
                       metrics=dict(metrics), training_data=training_data, weights_file=WEIGHTS_FILE,
                       weights_format="safetensors", description=description or card.description,
                       created_at=datetime.now(UTC).isoformat(timespec="seconds"), path=None,
                       source=f"trained by dfdesk train from {card.name}")
    try:
        with new_model_folder(name) as staging:
            save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(staging / WEIGHTS_FILE))
            new_card.weights_sha256 = sha256_file(staging / WEIGHTS_FILE)
            save_card(new_card, staging)
            if training_files is not None:
                write_training_files(staging, training_files)
    except (CardError, ModelFolderError) as exc:
        raise InstallError(f"cannot install {name!r}: {exc}") from None
    return load_card(paths.user_models_dir() / name)


def training_file_entries(paths_and_splits: Iterable[tuple[Path, str | None]]) -> list[dict]:
    """``{"sha256", "split", "file"}`` for each file (folders of stills are skipped: no evidence file can equal
    one), hashed by streaming reads."""
    return [{"sha256": sha256_file(path), "split": split, "file": path.name}
            for path, split in paths_and_splits if Path(path).is_file()]


def write_training_files(folder: Path, entries: Iterable[dict]) -> Path:
    """Write the training-file record beside a card (sorted by hash, one entry per hash and split)."""
    unique = {(e["sha256"].lower(), e.get("split"), e.get("file", "")) for e in entries}
    files = [{"sha256": h, "split": split, "file": name} for h, split, name in sorted(unique, key=str)]
    out = Path(folder) / TRAINING_FILES
    out.write_text(json.dumps({"format": TRAINING_FILES_FORMAT, "files": files}, indent=1), encoding="utf-8")
    return out


def _open_unit(value: float, eps: float = 1e-6) -> float:
    """A card threshold lies strictly inside (0, 1)."""
    return float(min(max(value, eps), 1.0 - eps))
