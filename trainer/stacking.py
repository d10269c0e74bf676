"""``dfdesk train --stacking``: fit the analysis's logistic stacking of installed models on a validation split.

Every video of the validation and test splits (the same adapters and leakage-free splits as training) is scored
by each chosen model exactly as the analysis scores it (:mod:`dfdesk.detectors.scoring`): the analysis's sampling
plan per model, one face extraction for the union of the plans through :func:`dfdesk.core.pipeline.extract_faces`
and the shared crop cache, the card's crops, batched inference, calibrated P(fake) through the card, and the
video score of the main track (mean of frame or clip probabilities, or the "confident" frame rule).

L2-regularised logistic regression is then fitted on the validation videos' logits of those probabilities,
``P(fake) = sigmoid(bias + sum_i w_i * logit(p_i))`` (what :func:`dfdesk.core.fusion.fuse` computes), and written
with the models' weights SHA-256, the data description and the validation/test AUC of the stacked score, of each
model and of the plain mean, into ``stacking.json`` in the user models folder (atomically).  The trainer keeps
no audit trail (no database); ``dfdesk train`` records ``model.stacking``.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import optimize, special

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings, resolve_device
from dfdesk.core.fusion import STACKING_FILE, Stacking, fuse, logit
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import VideoError, probe_video, sha256_file
from dfdesk.core.sampling import union_indices
from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.registry import create_detector
from dfdesk.detectors.scoring import clip_inputs, is_frame_level, plan_for, score_clips, units_of, video_score
from trainer import metrics as m
from trainer.clips import DataError
from trainer.config import ConfigError, TrainConfig
from trainer.install import installed_cards

SPLITS = ("val", "test")


# --- the fit ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticFit:
    weights: np.ndarray  # one per column
    bias: float
    converged: bool


def fit_logistic(features: np.ndarray, labels: Sequence[int], l2: float = 1.0) -> LogisticFit:
    """Minimise ``sum_n logloss(y_n, b + x_n . w) + (l2 / 2) |w|^2`` (the bias is not penalised) with L-BFGS."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if x.ndim != 2 or len(x) != len(y) or not np.isfinite(x).all():
        raise ValueError("features must be a finite (videos, models) array with one label per video")

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        value = np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * w @ w
        residual = special.expit(z) - y
        return float(value), np.append(x.T @ residual + l2 * w, residual.sum())

    result = optimize.minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B",
                               options={"maxiter": 1000})
    return LogisticFit(result.x[:-1], float(result.x[-1]), bool(result.success))


def stacked(features: np.ndarray, fit: LogisticFit) -> np.ndarray:
    return special.expit(np.asarray(features, dtype=np.float64) @ fit.weights + fit.bias)


# --- scoring videos as the analysis does ------------------------------------------------------------------------


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

    def score(self, path: str | os.PathLike, cancel: Callable[[], bool] | None = None) -> dict[str, float]:
        """Each model's video-level P(fake) for the main face track ({} when no face; a model that could not score
        the main track is left out).  Raises VideoError for an unreadable file."""
        info = probe_video(path)
        plans = {c.name: plan_for(c, info.frame_count, self.frames, None, self.seed) for c in self.cards}
        specs = {c.name: CropSpec.from_input(c.input) for c in self.cards}
        extraction = run_to_end(extract_faces(path, info, union_indices(plans.values()), self.face,
                                              set(specs.values()), sha256=sha256_file(path), cache=self.cache,
                                              cancel=cancel))
        main = extraction.main_track
        if main is None:
            return {}
        out = {}
        for card, model in zip(self.cards, self.models):
            frame_level = is_frame_level(card)
            clips = clip_inputs(extraction, specs[card.name], plans[card.name], card.input.frames_per_clip,
                                frame_level)
            units = units_of(list(score_clips(model, card, clips, self.device, self.batch_size, cancel)),
                             main.track_id)
            if units:
                out[card.name] = video_score(units, frame_level, self.aggregation)
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


# --- the command ------------------------------------------------------------------------------------------------


@dataclass
class Scored:
    videos: list[str]
    labels: list[int]
    probabilities: list[dict[str, float]]


def stacking_events(config: TrainConfig, *, dry_run: bool = False,
                    cancel: Callable[[], bool] | None = None) -> Iterator[dict]:
    """``dataset``, ``score`` (progress), ``eval`` and ``done`` events; raises the CLI's expected errors."""
    from trainer.cli import dataset_event  # the same adapters and leakage-free splits as training

    event, records = dataset_event(config)
    yield event
    require_both_classes([r for r in records if r.split == "val"], "validation")
    if dry_run:
        yield {"event": "done", "model": None, "dry_run": True}
        return
    scorer = make_scorer(config)
    names = [c.name for c in scorer.cards]
    chosen = [r for r in records if r.split in SPLITS]
    scored = {split: Scored([], [], []) for split in SPLITS}
    skipped = []
    for done, record in enumerate(chosen, start=1):
        try:
            probabilities = scorer.score(record.path, cancel)
        except (VideoError, OSError) as exc:
            probabilities, reason = {}, f"unreadable: {exc}"
        else:
            reason = "no face, or a model could not score the main face track"
        if set(probabilities) == set(names):
            part = scored[record.split]
            part.videos.append(str(record.path))
            part.labels.append(record.target)
            part.probabilities.append(probabilities)
        else:
            skipped.append({"video": str(record.path), "reason": reason})
        yield {"event": "score", "done": done, "total": len(chosen), "video": str(record.path)}
    val = scored["val"]
    require_both_classes(val, "validation", scored=True)
    fit = fit_logistic(logit_matrix(val, names), val.labels, config.stacking.l2)
    metrics = evaluate_stacking(scored, names, fit)
    yield {"event": "eval", "split": "val+test", "metrics": metrics}
    doc = stacking_document(config, scorer, fit, metrics, scored, skipped)
    path = write_stacking(doc)
    yield {"event": "done", "model": None, "stacking": str(path), "weights": doc["weights"], "bias": doc["bias"],
           "models": doc["models"], "metrics": metrics, "skipped": skipped}


def require_both_classes(items, what: str, scored: bool = False) -> None:
    labels = set(items.labels) if scored else {r.target for r in items}
    if labels != {0, 1}:
        seen = "no videos" if not labels else f"only {'fake' if 1 in labels else 'real'} videos"
        extra = " that every model could score" if scored else ""
        raise DataError(f"the {what} split has {seen}{extra}: stacking is fitted on real and fake videos "
                        "(pseudo-fakes cannot be scored as videos)")


def logit_matrix(part: Scored, names: Sequence[str]) -> np.ndarray:
    """(videos, models) logits of the calibrated P(fake), clipped as :func:`dfdesk.core.fusion.logit` clips."""
    return np.array([[logit(p[n]) for n in names] for p in part.probabilities], dtype=np.float64).reshape(-1,
                                                                                                         len(names))


def evaluate_stacking(scored: dict[str, Scored], names: Sequence[str], fit: LogisticFit) -> dict:
    """AUC of the stacked score, of each model and of the mean, per split (None where a split lacks a class).
    The validation figures are in-sample for the stacking (it was fitted there)."""
    stacking = Stacking(dict(zip(names, map(float, fit.weights))), fit.bias)
    out: dict = {}
    for split, part in scored.items():
        if set(part.labels) != {0, 1}:
            out[f"{split}_auc"] = None
            continue
        scores = {"stacking": [fuse(p, "stacking", stacking=stacking) for p in part.probabilities],
                  "mean": [fuse(p, "mean") for p in part.probabilities]}
        scores.update({n: [p[n] for p in part.probabilities] for n in names})
        out[f"{split}_auc"] = {k: round(m.roc_auc(part.labels, v), 6) for k, v in scores.items()}
        out[f"n_{split}_videos"] = len(part.labels)
        out[f"n_{split}_fake_videos"] = int(sum(part.labels))
    return out


def stacking_document(config: TrainConfig, scorer: Scorer, fit: LogisticFit, metrics: dict,
                      scored: dict[str, Scored], skipped: list[dict]) -> dict:
    d, s = config.data, config.stacking
    counts = "; ".join(f"{split} {len(part.labels)} videos ({len(part.labels) - sum(part.labels)} real, "
                       f"{sum(part.labels)} fake)" for split, part in scored.items())
    return {
        "weights": {c.name: float(w) for c, w in zip(scorer.cards, fit.weights)},
        "bias": fit.bias,
        "models": [{"name": c.name, "version": c.version, "architecture": c.architecture,
                    "weights_sha256": c.weights_sha256} for c in scorer.cards],
        "fitted_on": "val",
        "l2": s.l2,
        "converged": fit.converged,
        "frame_aggregation": s.frame_aggregation,
        "frames": s.frames or None,
        "seed": config.seed,
        "data": (f"{d.kind} data at {d.root}, split by {d.split_by} without leakage (ratios {list(d.split_ratios)}, "
                 f"seed {d.split_seed}); fitted on the validation split, measured on test: {counts}; "
                 f"{len(skipped)} video(s) skipped"),
        "metrics": metrics,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_stacking(doc: dict) -> Path:
    """Write ``stacking.json`` into the user models folder through a temporary file and a rename."""
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / STACKING_FILE
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".stacking-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(doc, stream, indent=2)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return final
