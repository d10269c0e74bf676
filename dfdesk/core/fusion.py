"""Fusion of detectors' calibrated P(fake) into one video score, its uncertainty band and the verdict.

Rules (recorded with every result):
* ``mean``: the mean of the detectors' calibrated probabilities;
* ``weighted``: weights from the validation figures in the model cards (AUC - 0.5, so a detector
  at chance weighs nothing; cards without a validation AUC weigh as the weakest known one);
* ``stacking``: logistic regression on the detectors' logits, fitted on a validation set by the
  trainer (weights per detector name and a bias);
* ``confident`` (per detector, for frame-level detectors): the aggregation of the DFDC winning
  solution (Seferbekov, 2020): when many frames are confidently fake, their mean dominates.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

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


@dataclass(frozen=True)
class Stacking:
    """Logistic stacking: P(fake) = sigmoid(bias + sum_i w_i * logit(p_i)).

    ``weights_sha256``: each model's weights hash at fitting time; the weights only fit those exact models.
    """

    weights: Mapping[str, float]
    bias: float = 0.0
    weights_sha256: Mapping[str, str] = field(default_factory=dict)

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
        return cls(weights, bias, hashes)

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
        return sigmoid(stacking.bias + sum(stacking.weights[n] * logit(probabilities[n]) for n in names))
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
    """(label, plain-words explanation)."""
    low, high = band
    if p >= rule.fake_threshold and low >= rule.decision:
        return "fake", (f"P(fake) {p:.2f} is at or above {rule.fake_threshold:.2f} and the whole uncertainty band "
                        f"[{low:.2f}, {high:.2f}] lies above {rule.decision:.2f}")
    if p <= rule.real_threshold and high <= rule.decision:
        return "real", (f"P(fake) {p:.2f} is at or below {rule.real_threshold:.2f} and the whole uncertainty band "
                        f"[{low:.2f}, {high:.2f}] lies below {rule.decision:.2f}")
    return "inconclusive", (f"P(fake) {p:.2f} with uncertainty band [{low:.2f}, {high:.2f}] does not clear the "
                            f"thresholds (fake at or above {rule.fake_threshold:.2f}, real at or below "
                            f"{rule.real_threshold:.2f}, band entirely on one side of {rule.decision:.2f})")


def agreement(probabilities: Mapping[str, float], thresholds: Mapping[str, float]) -> str:
    """Plain words on whether the detectors agree, each against its own threshold."""
    if not probabilities:
        return "no detector produced a score"
    fake = sorted(n for n, p in probabilities.items() if p >= thresholds.get(n, 0.5))
    real = sorted(n for n in probabilities if n not in fake)
    if len(probabilities) == 1:
        return f"only one detector contributed ({next(iter(probabilities))})"
    if not real:
        return f"all {len(fake)} detectors score the video as fake"
    if not fake:
        return f"all {len(real)} detectors score the video as real"
    return f"the detectors disagree: fake by {', '.join(fake)}; real by {', '.join(real)}"
