"""Scoring labelled videos exactly as the analysis scores them, with each (video, model) score kept on disk.

Through the analysis's own engine (:mod:`dfdesk.detectors.scoring`): each model's sampling plan (``plans_for``),
one face extraction for the union of the plans through the shared crop cache (``extract_for``), each model's clips
cut and scored by the one rule (``score_model``: calibrated P(fake) through the card), and the video score of the
main face track (mean of frame or clip probabilities, or the "confident" frame rule), so the ensemble is fitted on
the very numbers an analysis will feed it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.evidence_file import OpenedEvidence
from dfdesk.core.faces import FaceSettings, resolve_device
from dfdesk.core.frame_folder import is_frame_folder
from dfdesk.core.pipeline import run_to_end
from dfdesk.core.probe import probe_video, sha256_file
from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.registry import create_detector
from dfdesk.detectors.scoring import extract_for, is_frame_level, plans_for, score_model, units_of, video_score
from trainer.config import ConfigError, TrainConfig
from trainer.install import installed_cards
from trainer.score_cache import ScoreCache


@dataclass(frozen=True)
class Scorer:
    """The chosen models, loaded once, and the analysis settings they are run with."""

    cards: tuple[ModelCard, ...]
    models: tuple
    device: str
    face: FaceSettings
    cache: CropCache
    frames: int | None
    aggregation: str
    batch_size: int
    seed: int

    def only(self, names: Sequence[str]) -> Scorer:
        """The same scorer restricted to the named models (those whose scores are not cached yet)."""
        keep = [i for i, card in enumerate(self.cards) if card.name in names]
        return replace(self, cards=tuple(self.cards[i] for i in keep), models=tuple(self.models[i] for i in keep))

    def settings(self) -> dict:
        """The settings that change a score (the score cache's key and the stacking file's record)."""
        face = {k: v for k, v in asdict(self.face).items() if k not in ("device", "batch_size")}
        return {"frames": self.frames, "aggregation": self.aggregation, "seed": self.seed, "face": face}

    def score(self, path: str | os.PathLike, cancel: Callable[[], bool] | None = None) -> dict[str, float]:
        """Each model's video-level P(fake) for the main face track ({} when no face; a model that could not score
        the main track is left out).  Raises VideoError for an unreadable file."""
        units = self.units(path, cancel)
        return {card.name: video_score(units[card.name], is_frame_level(card), self.aggregation)
                for card in self.cards if card.name in units}

    def units(self, path: str | os.PathLike, cancel: Callable[[], bool] | None = None) -> dict[str, list[float]]:
        """Each model's scoring units of the main face track, in frame order: frame probabilities for a
        frame-level model, clip probabilities for a clip model ({} when no face; a model without a unit of the
        main track is left out)."""
        if is_frame_folder(path):
            return self._units_of(path, sha256_file(path), cancel)
        with OpenedEvidence(path) as evidence:  # hashed once, and decoded through the descriptor it hashed
            return self._units_of(evidence, evidence.hash(), cancel)

    def _units_of(self, source, sha256: str, cancel: Callable[[], bool] | None) -> dict[str, list[float]]:
        info = probe_video(source)
        plans = plans_for(self.cards, info.frame_count, self.frames, None, self.seed)
        extraction = run_to_end(extract_for(source, info, self.cards, plans, self.face, sha256=sha256,
                                            cache=self.cache, cancel=cancel))
        main = extraction.main_track
        if main is None:
            return {}
        out = {}
        for card, model in zip(self.cards, self.models):
            scores = score_model(model, card, plans[card.name], extraction, self.device, self.batch_size, cancel)
            units = units_of(scores, main.track_id)
            if units:
                out[card.name] = units
        return out


def choose_cards(names: Sequence[str]) -> tuple[ModelCard, ...]:
    """The named installed models (every one with trained weights when none is named), at least two."""
    trained = {}
    for card in installed_cards():
        if card.trained:
            trained.setdefault(card.name, card)
    if names:
        missing = [n for n in names if n not in trained]
        if missing:
            raise ConfigError(f"[stacking] models not installed with trained weights: {', '.join(missing)} "
                              f"(installed: {', '.join(sorted(trained)) or 'none'})")
        chosen = [trained[n] for n in dict.fromkeys(names)]
    else:
        chosen = [trained[n] for n in sorted(trained)]
    if len(chosen) < 2:
        raise ConfigError("stacking needs at least two installed models with trained weights")
    return tuple(chosen)


def make_scorer(config: TrainConfig) -> Scorer:
    try:
        device = str(resolve_device(config.device))
    except (RuntimeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    cards = choose_cards(config.stacking.models)
    cache = CropCache(Path(config.cache_dir) if config.cache_dir else paths.cache_dir() / "crops")
    face = FaceSettings(detect_longest_side=config.data.face_longest_side, device=device)
    s = config.stacking
    return Scorer(cards, tuple(create_detector(c, device) for c in cards), device, face, cache, s.frames or None,
                  s.frame_aggregation, s.batch_size, config.seed)


def cached_scores(scorer: Scorer, cache: ScoreCache, path: Path, sha256: str, name: str = "",
                  cancel: Callable[[], bool] | None = None) -> tuple[dict[str, float | None], bool]:
    """(each model's P(fake) of the video, None where it could not score; whether every score came from the
    cache).  Only the models without a cached score are run, in one face extraction."""
    found = {card.name: cache.get(sha256, card) for card in scorer.cards}
    missing = [n for n, (hit, _) in found.items() if not hit]
    if not missing:
        return {n: p for n, (_, p) in found.items()}, True
    fresh = scorer.only(missing).score(path, cancel)
    for card in scorer.cards:
        if card.name in missing:
            cache.put(sha256, card, fresh.get(card.name), name)
    return {n: (fresh.get(n) if n in missing else p) for n, (_, p) in found.items()}, False


def score_cache_for(config: TrainConfig, scorer: Scorer) -> ScoreCache:
    """Scores beside the crop cache: ``<cache_dir>/../scores`` when the config names a crop cache, else the user's
    cache folder."""
    folder = Path(config.cache_dir).parent / "scores" if config.cache_dir else paths.cache_dir() / "scores"
    return ScoreCache(folder, scorer.settings())
