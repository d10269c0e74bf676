"""The result of one analysis as plain data: what the analysis produces and what the store saves.

Probabilities are always P(fake), calibrated, in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dfdesk.core.coverage import Coverage
from dfdesk.core.likelihood import EvidenceStrength
from dfdesk.core.types import VerdictLabel

DETECTOR_USED = "used"
DETECTOR_NEEDS_TRAINING = "needs_training"
DETECTOR_FAILED = "failed"
DETECTOR_NO_INPUT = "no_input"  # e.g. no mouth crop, or a clip shorter than the detector's window


@dataclass(frozen=True)
class FramePoint:
    """One score on the timeline: a detector (or "fused") at a frame of a face track."""

    detector: str
    track_index: int
    frame_index: int
    time_s: float
    fake_probability: float
    attention: float | None = None  # temporal attention weight where the architecture has one


@dataclass(frozen=True)
class DetectorRun:
    name: str
    version: str
    architecture: str
    weights_sha256: str
    status: str  # DETECTOR_*
    note: str = ""
    threshold: float = 0.5
    fake_probability: float | None = None  # video level (main track), None when not used
    frame_level: bool = False
    track_probabilities: dict[int, float] = field(default_factory=dict)
    points: tuple[FramePoint, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class TrackOutcome:
    track_index: int
    is_main: bool
    frame_indices: tuple[int, ...]
    boxes: dict[int, tuple[float, float, float, float]]  # frame index -> box
    fake_probability: float | None = None


@dataclass(frozen=True)
class Heatmap:
    detector: str
    track_index: int
    frame_index: int
    fake_probability: float
    path: str  # PNG in the case's data folder
    sha256: str
    kind: str = "heatmap"  # "attention" (native) | "gradcam"


@dataclass(frozen=True)
class Verdict:
    label: VerdictLabel
    fake_probability: float | None
    band: tuple[float, float] | None  # uncertainty band of the fused probability
    fake_threshold: float  # at or above: fake (when the whole band is above)
    real_threshold: float  # at or below: real (when the whole band is below)
    agreement: str  # plain words: do the detectors agree?
    explanation: str  # plain words: why this verdict
    fusion: str  # the fusion rule used
    evidence: EvidenceStrength | None = None  # the bounded likelihood ratio (fitted ensembles only)
    coverage: Coverage | None = None  # what the fitted ensemble was validated on, and how it did


@dataclass(frozen=True)
class AnalysisOutcome:
    verdict: Verdict
    detectors: tuple[DetectorRun, ...]
    tracks: tuple[TrackOutcome, ...]
    fused_points: tuple[FramePoint, ...]
    heatmaps: tuple[Heatmap, ...]
    frames_sampled: int
    frames_with_face: int
    timings_s: dict[str, float]
    warnings: tuple[str, ...] = ()
