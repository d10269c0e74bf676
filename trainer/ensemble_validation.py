"""Fitting the whole LR system on labelled videos and measuring it out of sample, with groups left out together.

The system is two stages: the ensemble (:mod:`trainer.ensemble_fit`) gives a fused logit; the LR stage
(:mod:`trainer.lr_system`) is fitted on fused logits that are themselves out of sample (each video scored by an
ensemble fitted without its group), so that the calibration learns how the ensemble does on videos it has not seen.

Measured out of sample, nested:

* each video's fused logit: from the ensemble fitted without its group;
* each video's LR: from a whole system (ensemble, calibration, ELUB bounds) fitted without its group, whose own
  calibration used fused logits from ensembles fitted without both groups;
* the ensemble's AUC leave-pair-out: every (fake, real) comparison made by an ensemble fitted without both groups.

Ensembles fitted without a set of groups are computed once and shared by the three.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from trainer import metrics as m
from trainer.ensemble_fit import EnsembleFit, fit_ensemble, pair_folds
from trainer.lr_system import LrCalibration, fit_lr_calibration


class HeldOutFits:
    """Ensembles fitted without a given set of groups, each fitted once."""

    def __init__(self, logits: np.ndarray, labels: Sequence[int], groups: Sequence[str], names: Sequence[str],
                 l2: float, candidates: Sequence[int] | None = None):
        self.candidates = candidates
        self.logits = np.asarray(logits, dtype=np.float64)
        self.labels = np.asarray(labels, dtype=int)
        self.groups = list(groups)
        self.names = tuple(names)
        self.l2 = l2
        self._fits: dict[frozenset, EnsembleFit] = {}

    def without(self, *left_out: str) -> EnsembleFit:
        key = frozenset(left_out)
        if key not in self._fits:
            rows = [n for n, g in enumerate(self.groups) if g not in key]
            self._fits[key] = fit_ensemble(self.logits[rows], self.labels[rows], [self.groups[n] for n in rows],
                                           self.names, self.l2, self.candidates)
        return self._fits[key]

    def fused(self, video: int, *left_out: str) -> float:
        return float(self.without(*left_out).fused_logits(self.logits[video:video + 1])[0])


@dataclass(frozen=True)
class Validation:
    """Out-of-sample figures, one entry per video in input order."""

    fused_logits: np.ndarray  # from the ensemble fitted without the video's group
    llrs: np.ndarray  # bounded log10 LR from the system fitted without the video's group
    ensemble_auc: float  # leave-pair-out
    pooled_auc: float  # of fused_logits, pooled over the leave-one-group-out folds
    member_pair_auc: dict[str, float]  # leave-pair-out, each model alone under the same rules (same folds)
    member_auc: dict[str, float]  # each model's own score on every video (no fitting: polarity from its card)
    chosen: tuple[tuple[str, ...], ...]  # the members the ensemble chose without each video's group


@dataclass(frozen=True)
class LrSystem:
    ensemble: EnsembleFit
    calibration: LrCalibration
    validation: Validation


def fit_and_validate(logits: np.ndarray, labels: Sequence[int], groups: Sequence[str], names: Sequence[str],
                     l2: float) -> LrSystem:
    """The system fitted on every video, and its nested out-of-sample validation."""
    fits = HeldOutFits(logits, labels, groups, names, l2)
    y = fits.labels
    videos = range(len(y))
    fused = np.array([fits.fused(n, groups[n]) for n in videos])
    llrs = np.array([_held_out_llr(fits, n) for n in videos])
    alone = {name: _pair_auc(HeldOutFits(logits, labels, groups, names, l2, candidates=(j,)))
             for j, name in enumerate(names)}
    own = {name: m.roc_auc(y.tolist(), fits.logits[:, j].tolist()) for j, name in enumerate(names)}
    validation = Validation(fused, llrs, _pair_auc(fits), m.roc_auc(y.tolist(), fused.tolist()), alone, own,
                            tuple(fits.without(groups[n]).chosen for n in videos))
    return LrSystem(fits.without(), fit_lr_calibration(fused, y), validation)


def _held_out_llr(fits: HeldOutFits, video: int) -> float:
    """The video's LR from a system fitted on the other groups only."""
    own = fits.groups[video]
    rows = [n for n, g in enumerate(fits.groups) if g != own]
    inner = [fits.fused(n, own, fits.groups[n]) for n in rows]
    calibration = fit_lr_calibration(inner, fits.labels[rows])
    return float(calibration.log10_lr(np.array([fits.fused(video, own)]))[0])


def _pair_auc(fits: HeldOutFits) -> float:
    """Leave-pair-out AUC: each (fake, real) comparison by the ensemble fitted without both groups."""
    _keep, comparisons = pair_folds(fits.labels.tolist(), fits.groups)
    wins = []
    for _fold, fake, real in comparisons:
        left_out = (fits.groups[fake], fits.groups[real])
        a, b = fits.fused(fake, *left_out), fits.fused(real, *left_out)
        wins.append(1.0 if a > b else 0.5 if a == b else 0.0)
    return float(np.mean(wins)) if wins else 0.5
