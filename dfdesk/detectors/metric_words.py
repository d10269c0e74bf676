"""A model card's metric keys in words, for people: the Models window, the enable review and the report.

A key is a population prefix and a measure (``labelled_face_swap_`` + ``video_auc``: "video AUC (labelled clips,
face swaps vs reals)"); a few keys are whole phrases.  A key this module does not know is shown as it is.
"""
from __future__ import annotations

WHOLE_KEYS = {
    "labelled_pairs": "labelled fake–original pairs",
    "labelled_pairs_fake_above_original": "labelled fakes scored above their own original",
    "best_epoch": "best epoch",
    "steps": "training steps",
}
POPULATIONS = {
    "labelled_clips_": "labelled clips, all fakes vs reals",
    "labelled_face_swap_": "labelled clips, face swaps vs reals",
    "labelled_reenactment_": "labelled clips, reenactments vs reals",
    "labelled_talking_head_": "labelled clips, talking heads vs reals",
    "pseudo_fake_val_": "pseudo-fakes of held-out people",
    "val_": "validation split",
    "test_": "test split",
}
MEASURES = {
    "video_auc": "video AUC",
    "video_auc_ci": "video AUC, 95 % interval",
    "video_auc_ci_low": "video AUC, 95 % interval, low end",
    "video_auc_ci_high": "video AUC, 95 % interval, high end",
    "frame_auc": "frame AUC",
    "clip_auc": "clip AUC",
    "loss": "loss",
    "eer": "equal error rate",
    "frame_eer": "frame equal error rate",
    "eer_threshold": "threshold at the equal error rate",
    "ece": "expected calibration error",
    "ap": "average precision",
    "accuracy": "accuracy",
}
_LONGEST_FIRST = sorted(POPULATIONS.items(), key=lambda item: -len(item[0]))  # a prefix inside another never wins


def metric_words(key: str) -> str:
    """``key`` in words, or the key itself when its parts are not known."""
    if key in WHOLE_KEYS:
        return WHOLE_KEYS[key]
    for prefix, population in _LONGEST_FIRST:
        measure = MEASURES.get(key.removeprefix(prefix)) if key.startswith(prefix) else None
        if measure is not None:
            return f"{measure} ({population})"
    return key
