"""Fusion of detectors' calibrated P(fake) into one video score, its uncertainty band and the verdict.

Rules (recorded with every result):
* ``mean``: the mean of the detectors' calibrated probabilities;
* ``weighted``: weights from the validation figures in the model cards (AUC - 0.5, so a detector
  at chance weighs nothing; cards without a validation AUC weigh as the weakest known one);
* ``stacking``: the ensemble ``dfdesk train --stacking`` fitted on labelled validation videos: each model
  Platt-calibrated, the members that add ranking power stacked by logistic regression on their logits (weights
  per detector name, 0 for the others, and a bias), then a likelihood ratio bounded by ELUB
  (:mod:`dfdesk.core.likelihood`); its P(fake) is that LR at even prior odds;
* ``confident`` (per detector, for frame-level detectors): the aggregation of the DFDC winning
  solution (Seferbekov, 2020): when many frames are confidently fake, their mean dominates.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from dfdesk.core.coverage import Coverage
from dfdesk.core.likelihood import LrModel, even_odds_probability

FUSION_RULES = ("mean", "weighted", "stacking")
FRAME_AGGREGATIONS = ("mean", "confident")
EPS = 1e-6


class FusionError(ValueError):
    """A fusion rule that cannot be applied (unknown rule, stacking without fitted weights)."""


def logit(p: float) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return math.log(p / (1 - p))


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def aggregate_frames(probabilities: Sequence[float], rule: str = "mean", confident: float = 0.8,
                     fake_share: float = 0.35, real_share: float = 0.9) -> float:
    """One video-level score from per-frame probabilities.

    ``confident``: when at least ``fake_share`` of the frames are above ``confident``, the mean of those
    frames; else when at least ``real_share`` are below ``1 - confident``, the mean of those; else the mean.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.size == 0:
        raise FusionError("no frame to aggregate")
    if rule == "mean":
        return float(values.mean())
    if rule != "confident":
        raise FusionError(f"unknown frame aggregation {rule!r}; choose {', '.join(FRAME_AGGREGATIONS)}")
    fake, real = values[values > confident], values[values < 1 - confident]
    if fake.size >= fake_share * values.size:
        return float(fake.mean())
    if real.size >= real_share * values.size:
        return float(real.mean())
    return float(values.mean())


STACKING_FILE = "stacking.json"  # written by `dfdesk train --stacking` into the user's models folder
STACKING_FIGURES = {"ece": "stacking-ece.png", "tippett": "stacking-tippett.png"}  # its plots, beside it


@dataclass(frozen=True)
class Stacking:
    """Logistic stacking: fused logit = bias + sum_i w_i * logit(p_i); P(fake) = sigmoid(fused logit).

    ``weights_sha256``: each model's weights hash at fitting time; the weights only fit those exact models.
    A file fitted since likelihood ratios exist (format 2) also carries the LR calibration with its ELUB bounds, the
    coverage measured out of sample, and the validation videos it was fitted on (their SHA-256 and counts); its
    P(fake) is then the bounded LR read at even prior odds, LR / (1 + LR).
    """

    weights: Mapping[str, float]
    bias: float = 0.0
    weights_sha256: Mapping[str, str] = field(default_factory=dict)
    likelihood: LrModel | None = None
    coverage: Coverage | None = None
    validation_videos: int = 0
    validation_fakes: int = 0
    validation_sha256: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: Mapping) -> Stacking:
        """Read the ``stacking.json`` document; FusionError when it is not one."""
        try:
            weights = {str(n): float(w) for n, w in data["weights"].items()}
            hashes = {str(m["name"]): str(m["weights_sha256"]) for m in data["models"]}
            bias = float(data.get("bias", 0.0))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FusionError(f"the stacking file is not a fitted stacking (missing or bad {exc})") from None
        if not weights or not all(map(math.isfinite, [bias, *weights.values()])):
            raise FusionError("the stacking file holds no usable weights")
        unhashed = sorted(set(weights) - set(hashes))
        if unhashed:
            raise FusionError(f"the stacking file gives no weights SHA-256 for {', '.join(unhashed)}")
        return cls(weights, bias, hashes, **_evidence_parts(data))

    @property
    def members(self) -> tuple[str, ...]:
        """The models with weight: only these must have scored a video for the fused score to be defined."""
        return tuple(sorted(n for n, w in self.weights.items() if w != 0.0))

    def fused_logit(self, probabilities: Mapping[str, float]) -> float:
        return self.bias + sum(self.weights[n] * logit(p) for n, p in probabilities.items() if self.weights[n])

    def probability(self, probabilities: Mapping[str, float]) -> float:
        """P(fake): the bounded LR at even prior odds when the file has an LR calibration, else the stacked sigmoid."""
        z = self.fused_logit(probabilities)
        if self.likelihood is not None:
            return even_odds_probability(self.likelihood.log10_lr(z))
        return sigmoid(z)

    def check_models(self, installed: Mapping[str, str]) -> None:
        """FusionError unless every model in ``installed`` (name -> weights SHA-256 of the card that runs now) has a
        stacking weight fitted on those very weights."""
        uncovered = sorted(set(installed) - set(self.weights))
        if uncovered:
            raise FusionError(f"the stacking weights were not fitted for {', '.join(uncovered)} (fitted for "
                              f"{', '.join(sorted(self.weights))}); fit them again with dfdesk train --stacking "
                              "or choose those models")
        for name, sha in sorted(installed.items()):
            fitted = self.weights_sha256.get(name)
            if fitted != sha:
                raise FusionError(f"the stacking weights were fitted for {name} with weights SHA-256 "
                                  f"{str(fitted)[:12]}…, but the installed {name} has {str(sha)[:12]}…; fit them "
                                  "again with dfdesk train --stacking")
        absent = [n for n in self.members if n not in installed]
        if absent and self.likelihood is not None:
            raise FusionError(f"the fitted ensemble needs {', '.join(absent)}, which this analysis does not run; "
                              "choose it too, or fit the ensemble again with dfdesk train --stacking")


def _evidence_parts(data: Mapping) -> dict:
    """The format-2 parts of a stacking file (none in older files); FusionError when present but inconsistent."""
    if "likelihood_ratio" not in data:
        return {}
    try:
        validation = data["validation"]
        clips = validation["clips"]
        hashes = frozenset(str(c["sha256"]) for c in clips)
        fakes = sum(1 for c in clips if c["label"] == "fake")
        parts = {"likelihood": LrModel.from_dict(data["likelihood_ratio"]),
                 "coverage": Coverage.from_dict(data["coverage"]), "validation_videos": len(clips),
                 "validation_fakes": fakes, "validation_sha256": hashes}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FusionError(f"the stacking file's likelihood-ratio part is missing or bad ({exc})") from None
    if len(hashes) != len(clips) or not all(len(h) == 64 for h in hashes):
        raise FusionError("the stacking file's validation videos need one distinct SHA-256 each")
    if (validation.get("n_videos"), validation.get("n_fake")) != (len(clips), fakes):
        raise FusionError("the stacking file's validation counts do not match its list of videos")
    return parts


def validation_weight(metrics: Mapping) -> float | None:
    auc = metrics.get("val_video_auc", metrics.get("video_auc"))
    return max(float(auc) - 0.5, 0.0) if auc is not None else None


def fuse(probabilities: Mapping[str, float], rule: str = "mean", *,
         weights: Mapping[str, float | None] | None = None, stacking: Stacking | None = None) -> float:
    """The fused P(fake) of detectors' video-level probabilities under ``rule``."""
    if not probabilities:
        raise FusionError("no detector result to fuse")
    names = sorted(probabilities)
    if rule == "mean":
        return float(np.mean([probabilities[n] for n in names]))
    if rule == "weighted":
        return _weighted(probabilities, names, weights or {})
    if rule == "stacking":
        if stacking is None:
            raise FusionError("stacking needs weights fitted by the trainer on a validation set")
        missing = [n for n in names if n not in stacking.weights]
        if missing:
            raise FusionError(f"the stacking weights do not cover {', '.join(missing)}")
        absent = [n for n in stacking.members if n not in probabilities]
        if absent:
            raise FusionError(f"no score from {', '.join(absent)}, a member of the fitted ensemble")
        return stacking.probability(probabilities)
    raise FusionError(f"unknown fusion rule {rule!r}; choose {', '.join(FUSION_RULES)}")


def _weighted(probabilities: Mapping[str, float], names: list[str], weights: Mapping[str, float | None]) -> float:
    known = [w for w in (weights.get(n) for n in names) if w is not None]
    floor = min(known) if known else 1.0
    w = np.array([weights.get(n) if weights.get(n) is not None else floor for n in names], dtype=np.float64)
    if w.sum() <= 0:
        w = np.ones(len(names))
    return float(np.dot(w, [probabilities[n] for n in names]) / w.sum())


def bootstrap_band(unit_scores: Mapping[str, Sequence[float]], combine, *, reduce=None, rounds: int = 500,
                   level: float = 0.9, seed: int = 0) -> tuple[float, float]:
    """Percentile interval of ``combine({detector: reduce(detector, resampled units)})`` when each detector's
    scoring units (frames or clips) are resampled with replacement.  ``reduce`` defaults to the mean.
    Deterministic for a seed."""
    reduce = reduce or (lambda _name, values: float(values.mean()))
    rng = np.random.default_rng(seed)
    arrays = {name: np.asarray(values, dtype=np.float64) for name, values in unit_scores.items() if len(values)}
    if not arrays:
        raise FusionError("no scores to bootstrap")
    draws = []
    for _ in range(rounds):
        sample = {name: reduce(name, values[rng.integers(0, values.size, values.size)])
                  for name, values in arrays.items()}
        draws.append(combine(sample))
    low, high = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)


@dataclass(frozen=True)
class VerdictRule:
    """fake: P(fake) >= fake_threshold and the whole band >= decision; real: the mirror image."""

    decision: float = 0.5
    fake_threshold: float = 0.6
    real_threshold: float = 0.4


def decide(p: float, band: tuple[float, float], rule: VerdictRule = VerdictRule()) -> tuple[str, str]:
    """(label, plain-words explanation): the rule without a fitted ensemble (no likelihood ratio)."""
    low, high = band
    if p >= rule.fake_threshold and low >= rule.decision:
        return "fake", (f"P(fake) {p:.2f} is at or above {rule.fake_threshold:.2f} and the whole uncertainty band "
                        f"[{low:.2f}, {high:.2f}] lies above {rule.decision:.2f}")
    if p <= rule.real_threshold and high <= rule.decision:
        return "real", (f"P(fake) {p:.2f} is at or below {rule.real_threshold:.2f} and the whole uncertainty band "
                        f"[{low:.2f}, {high:.2f}] lies below {rule.decision:.2f}, so no manipulation is detected by "
                        "these models")
    return "inconclusive", (f"P(fake) {p:.2f} with uncertainty band [{low:.2f}, {high:.2f}] does not clear the "
                            f"thresholds (fake at or above {rule.fake_threshold:.2f}, no manipulation detected at or "
                            f"below {rule.real_threshold:.2f}, band entirely on one side of {rule.decision:.2f})")


def agreement(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> str:
    """Plain words on whether the detectors agree, each against its own threshold (never "real": a detector below
    its threshold only did not flag the video)."""
    if not probabilities:
        return "no detector produced a score"
    fake = sorted(n for n, p in probabilities.items() if p >= thresholds.get(n, 0.5))
    quiet = sorted(n for n in probabilities if n not in fake)
    if len(probabilities) == 1:
        return f"only one detector contributed ({next(iter(probabilities))})"
    if not quiet:
        return f"all {len(fake)} detectors flag the video as manipulated"
    if not fake:
        return f"none of the {len(quiet)} detectors flags the video"
    return f"the detectors disagree: flagged by {', '.join(fake)}; not flagged by {', '.join(quiet)}"
