"""Evidence strength and coverage: the bounded LR, its ENFSI verbal equivalent in either direction, the verdict
decided from it, the coverage measured per manipulation family, and the words the verdict is shown with."""
from __future__ import annotations

import math

import pytest

from dfdesk.core.coverage import FACE_SWAP, REENACTMENT, TALKING_HEAD, Coverage, family_of, measure_coverage
from dfdesk.core.likelihood import (
    LrModel,
    decide_from_lr,
    even_odds_probability,
    evidence_strength,
    format_lr,
    log10_lr_of,
    verbal_equivalent,
)
from dfdesk.services.verdicts import headline
from tests.services.evidence_fixtures import OVERCLAIM


@pytest.mark.parametrize("lr, words, favours", [
    (1.0, "support neither proposition", "neither"),
    (1.5, "support neither proposition", "neither"),
    (3.0, "weak support for the proposition that the face in this video was manipulated", "manipulated"),
    (50.0, "moderate support for the proposition that the face in this video was manipulated", "manipulated"),
    (500.0, "moderately strong support", "manipulated"),
    (5e3, "provide strong support", "manipulated"),
    (5e5, "very strong support", "manipulated"),
    (2e6, "extremely strong support", "manipulated"),
    (1 / 3.0, "weak support for the proposition that the face in this video was not manipulated", "not manipulated"),
    (1 / 50.0, "moderate support for the proposition that the face in this video was not manipulated",
     "not manipulated"),
])
def test_the_enfsi_verbal_scale_in_either_direction(lr, words, favours):
    sentence, side = verbal_equivalent(math.log10(lr))
    assert words in sentence and side == favours
    assert not OVERCLAIM.search(sentence)


def test_the_lr_is_clipped_to_its_bounds_and_says_so():
    model = LrModel(slope=2.0, intercept=0.0, lower=-0.8, upper=0.6)
    inside = evidence_strength(model, 0.1, validation_videos=25, validation_fakes=15, members=("m",))
    assert inside.log10_lr == pytest.approx(0.2) and not inside.at_bound
    clipped = evidence_strength(model, 50.0, validation_videos=25, validation_fakes=15, members=("m",))
    assert clipped.log10_lr == 0.6 and clipped.at_bound
    assert clipped.lr_bounds == pytest.approx((10 ** -0.8, 10 ** 0.6))
    assert "at the bound" in clipped.summary() and "25 validation videos" in clipped.summary()


@pytest.mark.parametrize("log10_lr, band, label", [
    (0.6, (0.2, 0.8), "fake"),
    (0.6, (-0.1, 0.8), "inconclusive"),  # the band reaches the other side of LR 1
    (0.3, (0.1, 0.5), "inconclusive"),  # weak support is below the decision LR
    (-0.7, (-0.9, -0.2), "real"),
    (0.0, None, "inconclusive"),
])
def test_the_verdict_is_decided_from_the_bounded_lr(log10_lr, band, label):
    decided, words = decide_from_lr(log10_lr, band)
    assert decided == label
    assert not OVERCLAIM.search(words)
    if label == "real":
        assert "no manipulation is detected by these models" in words


def test_even_odds_probability_and_lr_are_inverse():
    for value in (-2.0, -0.3, 0.0, 0.7, 3.0):
        assert log10_lr_of(even_odds_probability(value)) == pytest.approx(value)
    assert format_lr(4.2) == "4.2" and format_lr(1 / 3.1) == "1/3.1" and format_lr(25.0) == "25"


def test_no_verdict_is_ever_shown_as_real():
    assert headline("real") == "no manipulation detected by these models"
    assert {headline(label) for label in ("fake", "real", "inconclusive", "no_face", None)}.isdisjoint({"real"})
    assert not any(OVERCLAIM.search(headline(label)) for label in ("fake", "real", "inconclusive", "no_face"))


@pytest.mark.parametrize("method, family", [
    ("Deepfakes", FACE_SWAP), ("FaceSwap", FACE_SWAP), ("DF-VAE face swap", FACE_SWAP),
    ("face swap (FF++ method not stated)", FACE_SWAP), ("NeuralTextures", REENACTMENT), ("Face2Face", REENACTMENT),
    ("talking-head synthesis from one photo", TALKING_HEAD), ("", None), ("something new", None),
])
def test_manipulation_methods_map_to_families(method, family):
    assert family_of(method) == family


def test_coverage_counts_detections_per_family_and_names_what_was_not_validated():
    families = [FACE_SWAP, FACE_SWAP, TALKING_HEAD, None, None, "other manipulation"]
    labels = [1, 1, 1, 0, 0, 1]
    verdicts = ["fake", "inconclusive", "real", "inconclusive", "fake", "fake"]
    coverage = measure_coverage(families, labels, verdicts)
    rates = {f.family: (f.detected, f.fakes) for f in coverage.validated}
    assert rates == {FACE_SWAP: (1, 2), TALKING_HEAD: (0, 1), "other manipulation": (1, 1)}
    assert (coverage.real_clips, coverage.real_called_fake) == (2, 1)
    statement = coverage.statement()
    assert "face swap: 1 of 2 validation fakes detected (50%)" in statement
    assert "Not known to be detected: face reenactment, fully synthetic video" in statement
    assert not OVERCLAIM.search(statement)
    assert Coverage.from_dict(coverage.to_dict()) == coverage
