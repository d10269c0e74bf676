"""From a detector's clip scores to its timeline, per-track and video-level probabilities (plain data)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from dfdesk.core.outcome import DETECTOR_NO_INPUT, DETECTOR_USED, DetectorRun, FramePoint
from dfdesk.detectors.cards import ModelCard
from dfdesk.detectors.scoring import ClipScore, units_of, video_score


def timeline(name: str, scores: Sequence[ClipScore], times: dict[int, float]) -> tuple[FramePoint, ...]:
    """One point per (track, frame): frame scores, or the clip's score spread over its frames with attention."""
    points: dict[tuple[int, int], FramePoint] = {}
    for score in scores:
        values = score.frame_probabilities or [score.probability] * len(score.frames)
        attention = score.attention or [None] * len(score.frames)
        for frame, value, weight in zip(score.frames, values, attention):
            key = (score.track_id, frame)
            if key not in points:
                points[key] = FramePoint(name, score.track_id, frame, times.get(frame, 0.0), float(value),
                                         None if weight is None else float(weight))
    return tuple(points[k] for k in sorted(points))


def detector_run(card: ModelCard, scores: Sequence[ClipScore], main_track: int, times: dict[int, float],
                 frame_level: bool, aggregation: str, seconds: float) -> DetectorRun:
    common = {"name": card.name, "version": card.version, "architecture": card.architecture,
              "weights_sha256": card.weights_sha256, "threshold": card.threshold, "frame_level": frame_level,
              "seconds": round(seconds, 3)}
    by_track: dict[int, list[float]] = defaultdict(list)
    for track_id in sorted({s.track_id for s in scores}):
        by_track[track_id] = units_of(scores, track_id)
    probabilities = {t: video_score(u, frame_level, aggregation) for t, u in by_track.items() if u}
    if main_track not in probabilities:
        return DetectorRun(**common, status=DETECTOR_NO_INPUT,
                           note="no scorable face clip in the main track (too few frames with a face)")
    note = f"video score: {aggregation} of frame scores" if frame_level else "video score: mean of clip scores"
    return DetectorRun(**common, status=DETECTOR_USED, note=note, fake_probability=probabilities[main_track],
                       track_probabilities=probabilities, points=timeline(card.name, scores, times))

