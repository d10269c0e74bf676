"""What the views show, derived from an AnalysisView: plain functions, no Qt, no database."""
from __future__ import annotations

from dataclasses import dataclass

from dfdesk.core.outcome import DETECTOR_FAILED, DETECTOR_NEEDS_TRAINING, DETECTOR_NO_INPUT, DETECTOR_USED
from dfdesk.services.results import AnalysisView
from dfdesk.services.verdicts import headline

FUSED = "fused"
STATUS_WORDS = {DETECTOR_NEEDS_TRAINING: "needs training", DETECTOR_FAILED: "failed",
                DETECTOR_NO_INPUT: "no usable input"}


@dataclass(frozen=True)
class GalleryItem:
    frame_index: int
    time_s: float
    fake_probability: float
    track_index: int
    box: tuple[float, float, float, float] | None
    heatmaps: dict[str, str]  # detector -> PNG path


@dataclass(frozen=True)
class DetectorBar:
    name: str
    probability: float | None  # None: not shown as a score
    status_text: str  # "" when used
    threshold: float
    note: str


def percent(probability: float | None) -> str:
    return "—" if probability is None else f"{100 * probability:.0f}%"


def verdict_headline(view: AnalysisView) -> str:
    """The categorical verdict in words that do not overclaim (never "real")."""
    if view.verdict is None:
        return f"No verdict ({view.status})"
    words = headline(view.verdict.label)
    return words[0].upper() + words[1:]


def evidence_text(view: AnalysisView) -> str:
    """The likelihood ratio with its bounds and ENFSI verbal equivalent, or why there is none."""
    verdict = view.verdict
    if verdict is None:
        return ""
    if verdict.evidence is None:
        return (f"No likelihood ratio: the fusion rule '{verdict.fusion}' is not calibrated on validation videos "
                "(an administrator fits one with dfdesk train --stacking).")
    return verdict.evidence.summary()


def coverage_text(view: AnalysisView) -> str:
    """What a "no manipulation detected" result covers: the families validated on, with detection rates."""
    verdict = view.verdict
    if verdict is None or verdict.coverage is None:
        return ("Coverage unknown: these models were not validated here on labelled videos, so a result without "
                "detected manipulation says nothing about any particular manipulation method.")
    return verdict.coverage.statement()


def detector_bars(view: AnalysisView) -> list[DetectorBar]:
    """One bar per detector; a detector that was not used never shows a score."""
    return [DetectorBar(d.name, d.fake_probability if d.status == DETECTOR_USED else None,
                        "" if d.status == DETECTOR_USED else STATUS_WORDS.get(d.status, d.status), d.threshold, d.note)
            for d in view.detectors]


def curve_names(view: AnalysisView) -> list[str]:
    """Detectors with per-frame points, then the fused curve last."""
    names = [d.name for d in view.detectors if d.status == DETECTOR_USED and view.points.get(d.name)]
    return names + ([FUSED] if view.points.get(FUSED) else [])


def fused_label(view: AnalysisView) -> str:
    """The fused curve's name: calibrated when a fitted ensemble gave a likelihood ratio, else its rule."""
    verdict = view.verdict
    if verdict is not None and verdict.evidence is not None:
        return "fused (calibrated)"
    return f"fused ({verdict.fusion})" if verdict is not None and verdict.fusion else FUSED


def attention_points(view: AnalysisView) -> list[tuple[int, float]]:
    """(frame index, weight) of every detector point that carries a temporal attention weight."""
    return sorted((p.frame_index, p.attention) for points in view.points.values() for p in points
                  if p.attention is not None)


def boxes_at(view: AnalysisView, frame_index: int) -> list[tuple[int, bool, tuple[float, float, float, float]]]:
    """(track index, is main, box) of each face track at ``frame_index``, or at its nearest earlier sample."""
    found = []
    for track in view.tracks:
        earlier = [f for f in track.frame_indices if f <= frame_index]
        if earlier and (frame_index - earlier[-1]) <= _sample_gap(track.frame_indices):
            found.append((track.track_index, track.is_main, track.boxes[earlier[-1]]))
    return found


def _sample_gap(frames: tuple[int, ...]) -> int:
    steps = [b - a for a, b in zip(frames, frames[1:])]
    return max(steps) if steps else 0


def gallery_items(view: AnalysisView, limit: int = 8) -> list[GalleryItem]:
    """The most suspicious frames, most suspicious first: frames with heat maps, then the top fused scores."""
    heatmaps: dict[tuple[int, int], dict[str, str]] = {}
    probability: dict[tuple[int, int], float] = {}
    for h in view.heatmaps:
        heatmaps.setdefault((h.track_index, h.frame_index), {})[h.detector] = h.path
        probability[(h.track_index, h.frame_index)] = max(h.fake_probability, probability.get((h.track_index,
                                                                                               h.frame_index), 0.0))
    for p in view.points.get(FUSED, ()):
        probability.setdefault((p.track_index, p.frame_index), p.fake_probability)
    times = {p.frame_index: p.time_s for points in view.points.values() for p in points}
    ranked = sorted(probability, key=lambda key: (key not in heatmaps, -probability[key], key[1]))[:limit]
    fps = max(view.evidence.video.fps, 1e-6)
    return [GalleryItem(frame, times.get(frame, frame / fps), probability[(track, frame)], track,
                        _box(view, track, frame), heatmaps.get((track, frame), {}))
            for track, frame in ranked]


def _box(view: AnalysisView, track_index: int, frame_index: int):
    for track in view.tracks:
        if track.track_index == track_index:
            return track.boxes.get(frame_index)
    return None


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)}:{secs:06.3f}" if minutes else f"{secs:.2f} s"


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    if seconds < 60:
        return f"{seconds:.0f} s left"
    return f"{seconds / 60:.0f} min left"
