"""Metrics against small hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from trainer import metrics as m

# A case small enough to work out by hand: fakes score 0.35 and 0.8, reals 0.1 and 0.4.
Y = [0, 0, 1, 1]
S = [0.1, 0.4, 0.35, 0.8]


def test_auc_of_perfect_reversed_and_tied_rankings() -> None:
    assert m.roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert m.roc_auc([0, 0, 1, 1], [0.4, 0.3, 0.2, 0.1]) == 0.0
    assert m.roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_auc_hand_case_and_partial_ties() -> None:
    assert m.roc_auc(Y, S) == pytest.approx(3 / 4)  # 3 of the 4 (fake, real) pairs are ordered right
    assert m.roc_auc([0, 1, 1], [0.5, 0.5, 0.9]) == pytest.approx((0.5 + 1) / 2)


def test_single_class_and_bad_inputs_are_refused() -> None:
    with pytest.raises(m.MetricError, match="got only fake"):
        m.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(m.MetricError, match="0 \\(real\\) or 1 \\(fake\\)"):
        m.roc_auc([0, 2], [0.2, 0.3])
    with pytest.raises(m.MetricError, match="NaN"):
        m.roc_auc([0, 1], [0.2, float("nan")])
    with pytest.raises(m.MetricError, match="equally long"):
        m.roc_auc([0, 1], [0.2])


def test_roc_curve_groups_tied_scores() -> None:
    fpr, tpr, thresholds = m.roc_curve([0, 1, 1, 0], [0.3, 0.7, 0.3, 0.1])
    assert thresholds.tolist() == [np.inf, 0.7, 0.3, 0.1]
    assert tpr.tolist() == [0, 0.5, 1, 1] and fpr.tolist() == [0, 0, 0.5, 1]


def test_eer() -> None:
    # thresholds 0.8, 0.4, 0.35: miss rates 0.5, 0.5, 0; false alarms 0, 0.5, 0.5 -> they meet at 0.5, t = 0.4
    assert m.equal_error_rate(Y, S) == (pytest.approx(0.5), 0.4)
    assert m.equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == (0.0, 0.3)
    eer, _ = m.equal_error_rate([0, 0, 0, 0, 1, 1, 1, 1], [1, 2, 3, 6, 4, 5, 7, 8])
    assert eer == pytest.approx(0.25)


def test_average_precision_hand_case() -> None:
    # ranks: fake (P=1, R=.5), real, fake (P=2/3, R=1), real -> 0.5 * 1 + 0.5 * 2/3
    assert m.average_precision(Y, S) == pytest.approx(0.5 + 1 / 3)
    assert m.average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    with pytest.raises(m.MetricError, match="at least one fake"):
        m.average_precision([0, 0], [0.1, 0.2])


def test_accuracy_at_a_threshold() -> None:
    assert m.accuracy_at(Y, S, 0.35) == 0.75
    assert m.accuracy_at(Y, S, 0.5) == 0.75
    assert m.accuracy_at(Y, S, 0.0) == 0.5


def test_expected_calibration_error() -> None:
    # two bins: [0, .5) holds p .1, .4 with no fakes (gap .5 in total); [.5, 1] holds .6, .9, both fake (gap .5)
    assert m.expected_calibration_error([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4], n_bins=2) == pytest.approx(0.25)
    assert m.expected_calibration_error([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]) == 0.0
    assert m.expected_calibration_error([1, 0], [0.7, 0.7], n_bins=10) == pytest.approx(0.2)
    with pytest.raises(m.MetricError, match="logits"):
        m.expected_calibration_error([0, 1], [-2.0, 3.0])


def test_video_level_aggregation() -> None:
    ids, y, s = m.video_level(["a", "a", "b", "b"], [0, 0, 1, 1], [0.2, 0.6, 0.3, 0.5], reduce="mean")
    assert ids == ["a", "b"] and y.tolist() == [0, 1] and s.tolist() == pytest.approx([0.4, 0.4])
    assert m.video_auc(["a", "a", "b", "b"], [0, 0, 1, 1], [0.2, 0.6, 0.3, 0.5], reduce="max") == 0.0
    with pytest.raises(m.MetricError, match="both real and fake"):
        m.video_level(["a", "a"], [0, 1], [0.1, 0.2])


def test_bootstrap_is_seeded_stratified_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(10)].astype(int)
    s = np.r_[rng.normal(0, 1, 30), rng.normal(1, 1, 10)]
    class_counts = set()

    def auc_recording(labels: np.ndarray, scores: np.ndarray) -> float:
        class_counts.add(int(labels.sum()))
        return m.roc_auc(labels, scores)

    ci = m.bootstrap_ci(auc_recording, y, s, n_resamples=200, seed=1)
    assert class_counts == {10}
    assert ci.low <= ci.estimate <= ci.high and ci.estimate == m.roc_auc(y, s) and ci.high - ci.low > 0.05
    assert m.bootstrap_ci(m.roc_auc, y, s, n_resamples=200, seed=1) == m.bootstrap_ci(
        m.roc_auc, y, s, n_resamples=200, seed=1)


def test_threshold_selection() -> None:
    # Youden's J: 0.5 at thresholds 0.8 and 0.35; the higher one wins the tie
    assert m.select_threshold(Y, S, "youden") == 0.8
    assert m.select_threshold(Y, S, "eer") == 0.4
    with pytest.raises(m.MetricError, match="'eer' or 'youden'"):
        m.select_threshold(Y, S, "f1")


# Logits of +-1 where a quarter of the -1s and three quarters of the +1s are fake: the calibrated logits
# must be +-ln 3, so Platt gives a = ln 3, b = 0 and temperature scaling T = 1 / ln 3.
LOGITS = [-1.0] * 4 + [1.0] * 4
LABELS = [0, 0, 0, 1, 0, 1, 1, 1]


def test_platt_scaling_hand_case() -> None:
    params = m.fit_platt(LOGITS, LABELS, smooth_targets=False)
    assert params.a == pytest.approx(np.log(3), abs=1e-5) and params.b == pytest.approx(0, abs=1e-5)
    assert m.apply_platt([1.0], params)[0] == pytest.approx(0.75, abs=1e-5)
    smoothed = m.fit_platt(LOGITS, LABELS)
    assert 0 < smoothed.a < params.a  # Platt's targets (N+1)/(N+2) pull probabilities away from 0 and 1


def test_temperature_scaling_hand_case() -> None:
    temperature = m.fit_temperature(LOGITS, LABELS)
    assert temperature == pytest.approx(1 / np.log(3), abs=1e-5)
    assert m.apply_temperature([-1.0], temperature)[0] == pytest.approx(0.25, abs=1e-5)
