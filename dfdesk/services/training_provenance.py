"""Was this evidence in a model's training data?  Read from the SHA-256 list each trained model carries.

Why: a detector scoring a video it was trained (or tuned) on says nothing about that video: it may simply remember
it.  So every model the trainer installs, and the shipped SBI model, carries ``training_files.json`` beside its
card: the SHA-256 of every file it was trained or validated on (written by ``trainer/install.py`` and
``trainer/ship_sbi.py``; the trainer may not import this module, so the format is restated there and a test
reads what the trainer writes).  The analysis page and the report flag the models whose list holds the evidence's
SHA-256.  A model without the file (the converted MesoNet and LRNet weights, a model imported from elsewhere) is
*unknown*, never "not trained on it".

Format: ``{"format": 1, "files": [{"sha256": "<64 hex>", "split": "train" | "val" | null, "file": "<name>"}]}``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from dfdesk.detectors.cards import ModelCard
from dfdesk.services.models import list_installed

RECORD_FILE = "training_files.json"
RECORD_FORMAT = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Provenance:
    """For one evidence hash: the installed models trained on it, and those whose training files are not known."""

    trained_on: tuple[str, ...]
    unknown: tuple[str, ...]


def models_trained_on(evidence_sha256: str) -> list[str]:
    """Installed model names whose recorded training files include ``evidence_sha256`` (sorted)."""
    return list(provenance(evidence_sha256).trained_on)


def provenance(evidence_sha256: str, cards: list[ModelCard] | None = None) -> Provenance:
    """Which of ``cards`` (default: every installed trained model) saw the file in training, and which are unknown."""
    digest = evidence_sha256.strip().lower()
    trained_on, unknown = [], []
    for card in cards if cards is not None else [c for c in list_installed() if c.trained]:
        hashes = recorded_hashes(card)
        if hashes is None:
            unknown.append(card.name)
        elif digest in hashes:
            trained_on.append(card.name)
    return Provenance(tuple(sorted(trained_on)), tuple(sorted(unknown)))


def recorded_hashes(card: ModelCard) -> frozenset[str] | None:
    """The SHA-256 set of ``card``'s training files, or None when it has no readable record."""
    if card.path is None:
        return None
    file = card.path / RECORD_FILE
    try:
        stat = file.stat()
    except OSError:
        return None
    if file.is_symlink():
        return None
    return _read(str(file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read(path: str, _mtime_ns: int, _size: int) -> frozenset[str] | None:
    """Parsed once per file version (the cache key holds its modification time and size)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != RECORD_FORMAT or not isinstance(doc.get("files"), list):
        return None
    hashes = {str(entry.get("sha256", "")).lower() for entry in doc["files"] if isinstance(entry, dict)}
    return frozenset(h for h in hashes if _SHA256.match(h))
