"""Evaluation metrics on fake scores (higher = more likely fake; labels 1 = fake, 0 = real).

Rank-based AUC with ties, EER, average precision, accuracy at a threshold, expected calibration error,
stratified percentile bootstrap intervals, threshold selection and post-hoc calibration (temperature, Platt),
in numpy/scipy only.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize, special, stats


class MetricError(ValueError):
    """Labels or scores that a metric cannot be computed on."""


def check_inputs(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Labels as an int 0/1 vector and scores as a finite float vector of the same length."""
    y, s = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise MetricError(f"labels and scores must be 1-D and equally long, got shapes {y.shape} and {s.shape}")
    if len(y) == 0:
        raise MetricError("no samples")
    if not np.isin(y, (0, 1)).all():
        raise MetricError(f"labels must be 0 (real) or 1 (fake), got {sorted(set(y.tolist()) - {0, 1})[:5]}")
    if not np.isfinite(s).all():
        raise MetricError("scores contain NaN or infinite values")
    return y.astype(np.int64), s


def _require_both_classes(y: np.ndarray, what: str) -> None:
    if y.min() == y.max():
        only = "fake (1)" if y[0] == 1 else "real (0)"
        raise MetricError(f"{what} needs both real (0) and fake (1) samples, got only {only}")


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic; tied scores count one half."""
    y, s = check_inputs(labels, scores)
    _require_both_classes(y, "AUC")
    n_fake, n_real = int(y.sum()), int(len(y) - y.sum())
    ranks = stats.rankdata(s)  # average ranks for ties
    return float((ranks[y == 1].sum() - n_fake * (n_fake + 1) / 2) / (n_fake * n_real))


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for 'fake if score >= threshold', thresholds descending from +inf."""
    y, s = check_inputs(labels, scores)
    _require_both_classes(y, "a ROC curve")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_tie]
    fp = (last_of_tie + 1) - tp
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (len(y) - y.sum())]
    return fpr, tpr, np.r_[np.inf, s_sorted[last_of_tie]]


def equal_error_rate(labels: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
    """(EER, threshold): where the false-positive and false-negative rates meet, interpolated on the ROC.

    The threshold is the first ROC threshold at which the miss rate no longer exceeds the false-alarm rate.
    """
    fpr, tpr, thresholds = roc_curve(labels, scores)
    gap = (1.0 - tpr) - fpr  # starts at 1, ends at -1
    i = int(np.argmax(gap <= 0))
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1])), float(thresholds[i])


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Sum over distinct thresholds of (recall step) x precision, without interpolation."""
    y, s = check_inputs(labels, scores)
    if y.sum() == 0:
        raise MetricError("average precision needs at least one fake (1) sample")
    order = np.argsort(-s, kind="stable")
    last_of_tie = np.r_[np.nonzero(np.diff(s[order]))[0], len(s) - 1]
    tp = np.cumsum(y[order])[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / y.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def accuracy_at(labels: Sequence[int], scores: Sequence[float], threshold: float) -> float:
    """Share of samples classified correctly by 'fake if score >= threshold'."""
    y, s = check_inputs(labels, scores)
    return float(np.mean((s >= threshold).astype(np.int64) == y))


def expected_calibration_error(labels: Sequence[int], probabilities: Sequence[float], n_bins: int = 15) -> float:
    """ECE of P(fake): equal-width bins on [0, 1]; sum of bin share x |fake rate - mean probability|."""
    y, p = check_inputs(labels, probabilities)
    if n_bins < 1:
        raise MetricError(f"n_bins must be at least 1, got {n_bins}")
    if p.min() < 0 or p.max() > 1:
        raise MetricError("probabilities must lie in [0, 1]; pass probabilities, not logits")
    bins = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, y, n_bins) - np.bincount(bins, p, n_bins))  # per-bin sums
    return float(np.sum(gap) / len(y)) if count.any() else 0.0


def video_level(video_ids: Sequence[object], labels: Sequence[int], scores: Sequence[float],
                reduce: Literal["mean", "median", "max"] = "mean") -> tuple[list, np.ndarray, np.ndarray]:
    """Aggregate frame scores per video: (video ids in first-seen order, video labels, video scores)."""
    y, s = check_inputs(labels, scores)
    if len(video_ids) != len(y):
        raise MetricError(f"got {len(video_ids)} video ids for {len(y)} frames")
    reducer = {"mean": np.mean, "median": np.median, "max": np.max}.get(reduce)
    if reducer is None:
        raise MetricError(f"reduce must be mean, median or max, got {reduce!r}")
    groups: dict[object, list[int]] = {}
    for index, vid in enumerate(video_ids):
        groups.setdefault(vid, []).append(index)
    for vid, rows in groups.items():
        if y[rows].min() != y[rows].max():
            raise MetricError(f"video {vid!r} has frames labelled both real and fake")
    ids = list(groups)
    return ids, np.array([y[groups[v][0]] for v in ids]), np.array([reducer(s[groups[v]]) for v in ids])


def video_auc(video_ids: Sequence[object], labels: Sequence[int], scores: Sequence[float],
              reduce: Literal["mean", "median", "max"] = "mean") -> float:
    """AUC over videos, each scored by reducing its frame scores."""
    _, y, s = video_level(video_ids, labels, scores, reduce)
    return roc_auc(y, s)


@dataclass(frozen=True)
class ConfidenceInterval:
    estimate: float
    low: float
    high: float
    confidence: float


def bootstrap_ci(metric: Callable[[np.ndarray, np.ndarray], float], labels: Sequence[int],
                 scores: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> ConfidenceInterval:
    """Percentile bootstrap, resampling fakes and reals separately so each resample keeps the class counts."""
    y, s = check_inputs(labels, scores)
    if n_resamples < 1 or not 0 < confidence < 1:
        raise MetricError("n_resamples must be >= 1 and confidence in (0, 1)")
    rng = np.random.default_rng(seed)
    fakes, reals = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    values = np.empty(n_resamples)
    for k in range(n_resamples):
        rows = np.r_[rng.choice(fakes, len(fakes)), rng.choice(reals, len(reals))].astype(np.int64)
        values[k] = metric(y[rows], s[rows])
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return ConfidenceInterval(float(metric(y, s)), float(low), float(high), confidence)


def threshold_youden(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The ROC threshold maximising Youden's J = TPR - FPR (the highest one on ties)."""
    fpr, tpr, thresholds = roc_curve(labels, scores)
    j = (tpr - fpr)[1:]  # skip the +inf threshold
    return float(thresholds[1:][int(np.argmax(j))])


def select_threshold(labels: Sequence[int], scores: Sequence[float],
                     method: Literal["eer", "youden"] = "eer") -> float:
    """Decision threshold chosen on validation data: the EER point or Youden's J."""
    if method == "eer":
        return equal_error_rate(labels, scores)[1]
    if method == "youden":
        return threshold_youden(labels, scores)
    raise MetricError(f"method must be 'eer' or 'youden', got {method!r}")


def _nll(logits: np.ndarray, targets: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, logits) - targets * logits))


def fit_temperature(logits: Sequence[float], labels: Sequence[int]) -> float:
    """Temperature T > 0 minimising the log loss of sigmoid(logit / T) on validation logits of P(fake)."""
    y, z = check_inputs(labels, logits)
    result = optimize.minimize_scalar(lambda log_t: _nll(z / np.exp(log_t), y), bounds=(-6.0, 6.0),
                                      method="bounded", options={"xatol": 1e-8})
    return float(np.exp(result.x))


def apply_temperature(logits: Sequence[float], temperature: float) -> np.ndarray:
    """P(fake) after temperature scaling."""
    return special.expit(np.asarray(logits, dtype=np.float64) / temperature)


@dataclass(frozen=True)
class PlattParams:
    a: float  # slope on the logit
    b: float  # offset


def _platt_targets(y: np.ndarray, smooth: bool) -> np.ndarray:
    if not smooth:
        return y.astype(np.float64)
    n_fake, n_real = y.sum(), len(y) - y.sum()  # Platt (1999): targets pulled away from 0 and 1
    return np.where(y == 1, (n_fake + 1) / (n_fake + 2), 1 / (n_real + 2))


def fit_platt(logits: Sequence[float], labels: Sequence[int], smooth_targets: bool = True) -> PlattParams:
    """Platt scaling: P(fake) = sigmoid(a * logit + b), fitted by log loss on validation data."""
    y, z = check_inputs(labels, logits)
    _require_both_classes(y, "Platt scaling")
    t = _platt_targets(y, smooth_targets)

    def loss_and_grad(ab: np.ndarray) -> tuple[float, np.ndarray]:
        u = ab[0] * z + ab[1]
        residual = special.expit(u) - t
        return _nll(u, t), np.array([np.mean(residual * z), np.mean(residual)])

    result = optimize.minimize(loss_and_grad, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                               options={"gtol": 1e-10, "ftol": 1e-14})
    return PlattParams(float(result.x[0]), float(result.x[1]))


def apply_platt(logits: Sequence[float], params: PlattParams) -> np.ndarray:
    """P(fake) after Platt scaling."""
    return special.expit(params.a * np.asarray(logits, dtype=np.float64) + params.b)
