"""Evidence strength: the likelihood ratio of a fused score, bounded by what the validation data supports, its
verbal equivalent on the ENFSI scale, and the categorical verdict decided from it.

The propositions are Hp "the face in this video was manipulated" and Hd "it was not".  The LR is
p(score | Hp) / p(score | Hd), computed from the ensemble's fused logit by the calibration that
``dfdesk train --stacking`` fitted out of sample (``log10 LR = slope * logit + intercept``) and clipped to the
empirical lower and upper bounds (ELUB, Vergeer et al., Science and Justice 56, 2016): two dozen validation videos
can never support an LR of a million.  The verbal scale is the one of the ENFSI Guideline for Evaluative Reporting
in Forensic Science (2015), read in either direction.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

HP = "the face in this video was manipulated"
HD = "the face in this video was not manipulated"
DECISION_LOG10_LR = 0.5  # a categorical fake (or "no manipulation detected") needs LR >= 10^0.5 (or <= 10^-0.5)

# ENFSI (2015) verbal equivalents: lower end of each band, in log10 LR
ENFSI_SCALE = (
    (6.0, "extremely strong support"),
    (4.0, "very strong support"),
    (3.0, "strong support"),
    (2.0, "moderately strong support"),
    (1.0, "moderate support"),
    (math.log10(2.0), "weak support"),
)


@dataclass(frozen=True)
class LrModel:
    """``log10 LR = slope * fused logit + intercept``, clipped to [lower, upper] (log10 LR, ELUB)."""

    slope: float
    intercept: float
    lower: float
    upper: float

    def log10_lr(self, fused_logit: float) -> float:
        return min(max(self.slope * fused_logit + self.intercept, self.lower), self.upper)

    @classmethod
    def from_dict(cls, data: Mapping) -> LrModel:
        """ValueError when the numbers are missing, not finite, or the bounds do not enclose LR 1."""
        model = cls(float(data["slope"]), float(data["intercept"]), float(data["lower_log10"]),
                    float(data["upper_log10"]))
        if not all(map(math.isfinite, (model.slope, model.intercept, model.lower, model.upper))):
            raise ValueError("likelihood ratio numbers must be finite")
        if not model.lower <= 0.0 <= model.upper:
            raise ValueError("the LR bounds must enclose LR 1")
        return model


def even_odds_probability(log10_lr: float) -> float:
    """P(manipulated) for prior odds of 1: LR / (1 + LR)."""
    return 1.0 / (1.0 + math.pow(10.0, -log10_lr))


def log10_lr_of(even_odds_p: float) -> float:
    p = min(max(even_odds_p, 1e-12), 1 - 1e-12)
    return math.log10(p / (1 - p))


def verbal_equivalent(log10_lr: float) -> tuple[str, str]:
    """(sentence, favoured proposition: "manipulated" | "not manipulated" | "neither")."""
    size = abs(log10_lr)
    for floor, words in ENFSI_SCALE:
        if size >= floor - 1e-9:
            first, second = (HP, HD) if log10_lr > 0 else (HD, HP)
            favours = "manipulated" if log10_lr > 0 else "not manipulated"
            return f"The findings provide {words} for the proposition that {first}, rather than that {second}.", \
                favours
    return "The findings support neither proposition over the other (LR close to 1).", "neither"


def format_lr(value: float) -> str:
    """An LR as people read it: 4.2, 25, 1/3.1."""
    if value >= 1.0:
        return f"{value:.2g}" if value < 10 else f"{value:,.0f}"
    inverse = 1.0 / value
    return f"1/{inverse:.2g}" if inverse < 10 else f"1/{inverse:,.0f}"


@dataclass(frozen=True)
class EvidenceStrength:
    """What an analysis can say about one video, out of sample and bounded."""

    likelihood_ratio: float
    log10_lr: float
    lr_bounds: tuple[float, float]  # (lower, upper) LR the validation data can support
    at_bound: bool  # the calibrated LR reached a bound and was clipped there
    verbal: str
    favours: str  # "manipulated" | "not manipulated" | "neither"
    validation_videos: int
    validation_fakes: int
    members: tuple[str, ...]  # the models with weight in the fitted ensemble
    in_validation: bool = False  # this very video was one the system was fitted on: its LR is not out of sample

    @property
    def carries_evidence(self) -> bool:
        """False when no model has weight in the fitted ensemble: its LR is then 1 for every video."""
        return bool(self.members)

    def summary(self) -> str:
        if not self.carries_evidence:
            return (f"{same_for_every_video('LR 1')}. This result is no evidence either way; the detectors' own "
                    "scores are shown, but none of them passed the validation that would let it decide.")
        low, high = self.lr_bounds
        bound = " (at the bound the validation data allows)" if self.at_bound else ""
        return (f"LR {format_lr(self.likelihood_ratio)} (log10 {self.log10_lr:+.2f}){bound}; bounds "
                f"[{format_lr(low)}, {format_lr(high)}] from {self.validation_videos} validation videos. "
                f"{self.verbal}")


def same_for_every_video(value: str) -> str:
    """``value`` (an LR, a P(fake)) of a fitted ensemble in which no model carries weight, in the product's words."""
    return f"{value} for every video: no detector carries weight in the fitted ensemble"


def record_carries_evidence(evidence: Mapping | None) -> bool:
    """``EvidenceStrength.carries_evidence`` of a saved or exported evidence record (a mapping with "members");
    True without a record (no fitted ensemble: the P(fake) is a mean, and shown as one) or without its members."""
    return evidence is None or "members" not in evidence or bool(evidence["members"])


def no_member_words(validation_videos: int) -> str:
    """Why a fitted ensemble without members can only ever say LR 1."""
    return (f"on its {validation_videos} validation videos no detector told manipulated from unmanipulated videos "
            "apart beyond chance, so the fitted ensemble gives none of them weight and its LR is 1 for every video")


def evidence_strength(model: LrModel, fused_logit: float, *, validation_videos: int, validation_fakes: int,
                      members: tuple[str, ...], in_validation: bool = False) -> EvidenceStrength:
    raw = model.slope * fused_logit + model.intercept
    value = model.log10_lr(fused_logit)
    verbal, favours = verbal_equivalent(value)
    return EvidenceStrength(math.pow(10.0, value), value, (math.pow(10.0, model.lower), math.pow(10.0, model.upper)),
                            raw != value, verbal, favours, validation_videos, validation_fakes, members,
                            in_validation)


def decide_from_lr(log10_lr: float, band: tuple[float, float] | None) -> tuple[str, str]:
    """(fake | real | inconclusive, plain words).  ``band``: log10 LR of the fused score's uncertainty band.
    "real" is the scripts' word for "no manipulation detected by these models" and is never shown as such."""
    low, high = band if band else (log10_lr, log10_lr)
    needed = f"{format_lr(10 ** DECISION_LOG10_LR)}"
    where = f"LR {format_lr(10 ** log10_lr)} with uncertainty band [{format_lr(10 ** low)}, {format_lr(10 ** high)}]"
    if log10_lr >= DECISION_LOG10_LR and low > 0.0:
        return "fake", f"{where}: at least {needed} and the whole band above 1, so manipulation is detected"
    if log10_lr <= -DECISION_LOG10_LR and high < 0.0:
        return "real", (f"{where}: at most 1/{needed} and the whole band below 1, so no manipulation is detected "
                        "by these models")
    return "inconclusive", (f"{where}: neither at least {needed} nor at most 1/{needed} with the whole band on one "
                            "side of 1")
