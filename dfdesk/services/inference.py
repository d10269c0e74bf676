"""Running one detector over the face tracks of one video: batched clips in, calibrated P(fake) out.

The code lives in :mod:`dfdesk.detectors.scoring`, which the trainer's stacking fit shares (the trainer may not
import services); this module keeps the analysis's names.
"""
from __future__ import annotations

from dfdesk.detectors.scoring import MIN_CLIP_COVERAGE, ClipInput, ClipScore, clip_inputs, score_clips

__all__ = ["MIN_CLIP_COVERAGE", "ClipInput", "ClipScore", "clip_inputs", "score_clips"]
