"""Card metric keys in words: every key a shipped card or the trainer writes reads as words; others as they are."""
from __future__ import annotations

import pytest

from dfdesk import paths
from dfdesk.detectors.cards import load_card
from dfdesk.detectors.metric_words import metric_words


@pytest.mark.parametrize("key, words", [
    ("labelled_face_swap_video_auc", "video AUC (labelled clips, face swaps vs reals)"),
    ("labelled_clips_video_auc", "video AUC (labelled clips, all fakes vs reals)"),
    ("labelled_face_swap_video_auc_ci_low", "video AUC, 95 % interval, low end (labelled clips, face swaps vs reals)"),
    ("labelled_pairs_fake_above_original", "labelled fakes scored above their own original"),
    ("pseudo_fake_val_frame_eer", "frame equal error rate (pseudo-fakes of held-out people)"),
    ("val_video_auc", "video AUC (validation split)"),
    ("test_ece", "expected calibration error (test split)"),
    ("something_new", "something_new"),
])
def test_a_metric_key_reads_as_words(key: str, words: str):
    assert metric_words(key) == words


def test_every_metric_of_every_shipped_card_reads_as_words():
    cards = [load_card(path) for path in sorted(paths.bundled_models_dir().glob("*/card.toml"))]
    keys = {key for card in cards for key in card.metrics}
    assert len(cards) == 7 and len(keys) >= 10
    assert [key for key in keys if metric_words(key) == key] == []


def test_every_metric_the_trainer_writes_reads_as_words():
    written = ("val_video_auc", "test_video_auc", "test_video_auc_ci", "test_eer", "test_ap", "test_accuracy",
               "test_ece", "best_epoch", "steps", "val_frame_auc", "val_clip_auc", "val_loss", "val_ece")  # the trainer
    assert [key for key in written if metric_words(key) == key] == []
