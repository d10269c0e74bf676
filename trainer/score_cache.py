"""Per-clip, per-model video scores kept on disk, so that re-fitting the ensemble does not score the clips again.

Scoring the labelled clips with every installed model takes minutes on a CPU; the fit itself takes a second.  An
entry is keyed by the clip's SHA-256, the model's weights SHA-256 and a digest of everything else that changes the
score (the card's version, preprocessing, output and calibration; the frames, aggregation, seed and face settings;
the crop cache's version, which is bumped whenever detection or crop code changes its output), so a re-trained
model, an edited clip or other settings can never be served a stale score.  One small JSON file per
entry, written through a temporary file and a rename.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from dfdesk.core.crop_cache import CACHE_VERSION
from dfdesk.detectors.cards import ModelCard

NO_SCORE = None  # cached when a model could not score the clip's main face (or no face was found)


def scoring_digest(card: ModelCard, settings: dict) -> str:
    """What, besides the clip and the weights, decides a model's score of a clip."""
    how = {"architecture": card.architecture, "version": card.version, "options": card.options,
           "input": asdict(card.input), "output": [card.output_kind, card.fake_index, card.sigmoid_means],
           "calibration": asdict(card.calibration), "settings": settings, "crops": CACHE_VERSION}
    return hashlib.sha256(json.dumps(how, sort_keys=True, default=str).encode()).hexdigest()[:16]


class ScoreCache:
    """Scores in ``folder``, one JSON file per (clip, model, scoring digest)."""

    def __init__(self, folder: str | Path, settings: dict):
        self.folder = Path(folder)
        self.settings = dict(settings)

    def _path(self, clip_sha256: str, card: ModelCard) -> Path:
        key = f"{clip_sha256[:24]}-{card.weights_sha256[:24]}-{scoring_digest(card, self.settings)}"
        return self.folder / f"{key}.json"

    def get(self, clip_sha256: str, card: ModelCard) -> tuple[bool, float | None]:
        """(found, P(fake) or None when the model could not score the clip)."""
        path = self._path(clip_sha256, card)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False, None
        if entry.get("clip_sha256") != clip_sha256 or entry.get("weights_sha256") != card.weights_sha256:
            return False, None
        return True, entry.get("probability")

    def put(self, clip_sha256: str, card: ModelCard, probability: float | None, clip_name: str = "") -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = {"clip_sha256": clip_sha256, "clip": clip_name, "model": card.name, "version": card.version,
                 "weights_sha256": card.weights_sha256, "settings": self.settings, "probability": probability}
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".score-", suffix=".json")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(entry, stream, indent=1)
            os.replace(temporary, self._path(clip_sha256, card))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
