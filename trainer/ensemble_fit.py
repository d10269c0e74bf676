"""Fitting the ensemble on a few labelled videos: per-model Platt calibration, then logistic stacking of the members
that add ranking power, chosen by cross-validation that leaves whole groups (an original and its fakes) out.

Why a choice and not plain stacking: on two dozen videos an L2 logistic stacking of every model can rank worse than
its best member out of sample (it spends its few degrees of freedom fitting noise, and averaging in detectors that
call almost everything authentic pulls the fakes down).  So the members are chosen by forward selection inside the
training videos: start from the single model that ranks them best (when it ranks them better than chance at all),
add another model only while that strictly raises the leave-pair-out AUC of the stacked score, and never accept a
member whose fitted weight is not positive (a detector is never read upside down).  A model that adds no ranking
power gets weight 0; when no model ranks the videos better than chance, the ensemble is a constant (every LR 1).

Every fit here is an L2-penalised logistic regression solved by Newton's method for all folds at once (the
problems are tiny: a few dozen videos, a handful of models), so nested cross-validation costs seconds.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from trainer import metrics as m

MAX_NEWTON_STEPS = 100
MEMBER_P_VALUE = 0.05  # a model starts an ensemble only when it ranks the videos better than chance at this level
MAX_STEP = 4.0  # largest change of one parameter per Newton step (keeps nearly separable fits stable)


# --- batched logistic regression --------------------------------------------------------------------------------


def fit_logistic_folds(features: np.ndarray, labels: np.ndarray, keep: np.ndarray, l2: float) -> np.ndarray:
    """One logistic regression per fold, minimising ``sum_n keep[f, n] * class weight * logloss + (l2 / 2) |w|^2``
    with the bias unpenalised.  ``features``: (videos, columns), or (folds, videos, columns) when each fold has its own;
    ``keep``: (folds, videos), 1 where the video is in that fold's training part.
    Returns (folds, columns + 1): the weights, then the bias."""
    y = np.asarray(labels, dtype=np.float64)
    keep = balanced(np.asarray(keep, dtype=np.float64), y)
    x = np.broadcast_to(np.asarray(features, dtype=np.float64), (len(keep), *np.shape(features)[-2:]))
    x = np.concatenate([x, np.ones((*x.shape[:2], 1))], axis=2)
    penalty = np.full(x.shape[2], max(l2, 1e-6))  # a floor keeps the Hessian invertible on separable folds
    penalty[-1] = 1e-9
    theta = np.zeros((len(keep), x.shape[2]))
    for _ in range(MAX_NEWTON_STEPS):
        p = special.expit(np.einsum("fnj,fj->fn", x, theta))
        gradient = np.einsum("fn,fnj->fj", (p - y) * keep, x) + penalty * theta
        hessian = np.einsum("fn,fni,fnj->fij", keep * p * (1 - p), x, x) + np.diag(penalty)
        step = np.clip(np.linalg.solve(hessian, gradient[..., None])[..., 0], -MAX_STEP, MAX_STEP)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return theta


def balanced(keep: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per fold, weigh each class to half the training part, so that a fit's intercept does not follow the share of
    fakes left in the fold (which would give held-out fakes lower scores merely for being held out)."""
    fakes = (keep * labels).sum(axis=1, keepdims=True)
    reals = (keep * (1 - labels)).sum(axis=1, keepdims=True)
    total = fakes + reals
    per_class = np.where(labels == 1, total / np.maximum(2 * fakes, 1e-12), total / np.maximum(2 * reals, 1e-12))
    return keep * per_class


def group_folds(groups: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(keep, fold_of): one fold per group; keep[f, n] is 1 unless video n belongs to group f."""
    names = list(dict.fromkeys(groups))
    fold_of = np.array([names.index(g) for g in groups])
    keep = (fold_of[None, :] != np.arange(len(names))[:, None]).astype(np.float64)
    return keep, fold_of


def pair_folds(labels: Sequence[int], groups: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Leave-pair-out folds (Airola et al., Computational Statistics & Data Analysis 2011): for every fake and real
    video, one fold without both of their groups.  Returns keep (folds, videos) and the comparisons
    (fold, fake video, real video) it serves."""
    folds: dict[frozenset, int] = {}
    comparisons = []
    for i, (yi, gi) in enumerate(zip(labels, groups)):
        for j, (yj, gj) in enumerate(zip(labels, groups)):
            if yi == 1 and yj == 0:
                comparisons.append((folds.setdefault(frozenset((gi, gj)), len(folds)), i, j))
    keep = np.ones((len(folds), len(groups)))
    for key, f in folds.items():
        keep[f, [n for n, g in enumerate(groups) if g in key]] = 0.0
    return keep, comparisons


def pair_auc(scores: np.ndarray, comparisons: Sequence[tuple[int, int, int]]) -> float:
    """The share of (fake, real) comparisons that the fold's scores order correctly (ties count half)."""
    wins = [1.0 if scores[f, i] > scores[f, j] else 0.5 if scores[f, i] == scores[f, j] else 0.0
            for f, i, j in comparisons]
    return float(np.mean(wins)) if wins else 0.5


# --- one candidate ensemble: calibrate each member, stack the calibrated logits -----------------------------------


def _calibrated(logits: np.ndarray, platt: np.ndarray) -> np.ndarray:
    """(folds, videos, members): each member's logit through its fold's Platt map."""
    return logits[None, :, :] * platt[:, None, :, 0] + platt[:, None, :, 1]


def fit_candidate(logits: np.ndarray, labels: np.ndarray, keep: np.ndarray, l2: float) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Per fold: each member's Platt map (folds, members, 2) and the stacking of the calibrated logits
    (folds, members + 1)."""
    folds, members = len(keep), logits.shape[1]
    per_member = np.repeat(logits.T[:, :, None], folds, axis=0)  # (members * folds, videos, 1), member-major
    platt = fit_logistic_folds(per_member, labels, np.tile(keep, (members, 1)), l2)
    platt = platt.reshape(members, folds, 2).transpose(1, 0, 2)
    return platt, fit_logistic_folds(_calibrated(logits, platt), labels, keep, l2)


def candidate_logits(logits: np.ndarray, platt: np.ndarray, stacking: np.ndarray) -> np.ndarray:
    """(folds, videos): the fused logit of every video under every fold's fit."""
    calibrated = _calibrated(logits, platt)
    return np.einsum("fnj,fj->fn", calibrated, stacking[:, :-1]) + stacking[:, -1:]


def stacked_pair_auc(logits: np.ndarray, labels: np.ndarray, groups: Sequence[str], l2: float) -> float:
    """Leave-pair-out AUC of stacking these columns: each comparison scored by a fit made without both videos."""
    keep, comparisons = pair_folds(labels.tolist(), groups)
    platt, stacking = fit_candidate(logits, labels, keep, l2)
    return pair_auc(candidate_logits(logits, platt, stacking), comparisons)


# --- choosing the members ---------------------------------------------------------------------------------------


def _positive_fit(logits: np.ndarray, labels: np.ndarray, l2: float) -> bool:
    """Fitted on all the videos given, does every member get a positive Platt slope and stacking weight?"""
    platt, stacking = fit_candidate(logits, labels, np.ones((1, len(labels))), l2)
    return bool((platt[0, :, 0] > 0).all() and (stacking[0, :-1] > 0).all())


def ranks_better_than_chance(scores: np.ndarray, labels: np.ndarray) -> bool:
    """Do fakes score higher than real videos beyond what chance explains (one-sided Mann-Whitney U test)?"""
    fakes, reals = scores[labels == 1], scores[labels == 0]
    if not len(fakes) or not len(reals):
        return False
    return bool(stats.mannwhitneyu(fakes, reals, alternative="greater").pvalue < MEMBER_P_VALUE)


def select_members(logits: np.ndarray, labels: np.ndarray, groups: Sequence[str], l2: float,
                   candidates: Sequence[int] | None = None) -> tuple[int, ...]:
    """The columns to stack, from ``candidates`` (default all); () when no model ranks these videos.

    A single model's ranking needs no fitting (its polarity comes from its card), so its AUC on these videos is
    already an honest estimate: the best one that ranks better than chance (p < 0.05) starts.  A combination's
    weights are fitted, so its AUC is measured leave-pair-out; a model joins only when that strictly beats the
    current choice.
    """
    pool = list(range(logits.shape[1]) if candidates is None else candidates)
    if len(set(labels.tolist())) < 2 or not pool:
        return ()
    own = {j: m.roc_auc(labels.tolist(), logits[:, j].tolist()) for j in pool}
    starters = [j for j in pool if ranks_better_than_chance(logits[:, j], labels)
                and _positive_fit(logits[:, [j]], labels, l2)]
    if not starters:
        return ()
    first = max(starters, key=lambda j: own[j])
    chosen, best = (first,), own[first]
    while True:
        options = [tuple(sorted(chosen + (j,))) for j in pool if j not in chosen]
        scored = [(stacked_pair_auc(logits[:, c], labels, groups, l2), c) for c in options
                  if _positive_fit(logits[:, c], labels, l2)]
        if not scored or max(scored)[0] <= best:
            return chosen
        best, chosen = max(scored)


# --- the fitted ensemble ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnsembleFit:
    """``fused logit = bias + sum_i weights[i] * logit(p_i)``: Platt maps and stacking folded into one linear map.
    ``weights`` is 0 for every model not chosen; ``platt`` holds every model's own calibration (a, b)."""

    names: tuple[str, ...]
    chosen: tuple[str, ...]
    weights: np.ndarray
    bias: float
    platt: np.ndarray  # (models, 2)

    def fused_logits(self, logits: np.ndarray) -> np.ndarray:
        return np.asarray(logits, dtype=np.float64) @ self.weights + self.bias


def fit_ensemble(logits: np.ndarray, labels: Sequence[int], groups: Sequence[str], names: Sequence[str],
                 l2: float, candidates: Sequence[int] | None = None) -> EnsembleFit:
    """Choose the members among ``candidates`` (default all) inside these videos and fit them on all of them."""
    x, y = np.asarray(logits, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    everyone = np.ones((1, len(y)))
    platt = fit_candidate(x, y, everyone, l2)[0][0]
    columns = select_members(x, y, list(groups), l2, candidates)
    weights = np.zeros(x.shape[1])
    if not columns:  # no model ranks these videos: a constant, even-odds score
        return EnsembleFit(tuple(names), (), weights, 0.0, platt)
    member_platt, stacking = fit_candidate(x[:, columns], y, everyone, l2)
    slopes, offsets = member_platt[0, :, 0], member_platt[0, :, 1]
    w = stacking[0, :-1]
    weights[list(columns)] = w * slopes
    bias = float(stacking[0, -1] + w @ offsets)
    return EnsembleFit(tuple(names), tuple(names[j] for j in columns), weights, bias, platt)
