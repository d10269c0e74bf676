"""Link per-frame face detections into one track per person.

Frames are visited in index order; each detection joins the track whose last box overlaps it
most (IoU), or, when sampled frames lie far apart and boxes no longer overlap, the track
whose last box centre is nearest relative to the box size and whose size is similar.
The main track (most detections x mean box area) gets id 0; the others follow in that order.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dfdesk.core.types import Box, FaceDetection, FaceTrack, FrameFaces

MAX_SIZE_RATIO = 2.0  # a face more than twice as large (or small) as the track's is someone else


@dataclass
class _Open:
    frame_indices: list[int] = field(default_factory=list)
    detections: list[FaceDetection] = field(default_factory=list)
    missed: int = 0  # sampled frames since the last detection


def box_area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    inter = box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def centre_distance(a: Box, b: Box) -> float:
    """Distance between box centres divided by the mean box side."""
    ax, ay = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
    bx, by = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    side = (a[2] - a[0] + a[3] - a[1] + b[2] - b[0] + b[3] - b[1]) / 4
    return ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 / max(side, 1e-6)


def link_cost(a: Box, b: Box, iou_threshold: float, max_distance: float) -> float | None:
    """Lower is a better match; None when the boxes cannot be the same face."""
    overlap = iou(a, b)
    if overlap >= iou_threshold:
        return 1.0 - overlap
    ratio = box_area(a) / max(box_area(b), 1e-6)
    distance = centre_distance(a, b)
    if distance <= max_distance and 1 / MAX_SIZE_RATIO**2 <= ratio <= MAX_SIZE_RATIO**2:
        return 1.0 + distance
    return None


def build_tracks(frame_faces: Sequence[FrameFaces], iou_threshold: float = 0.3, max_gap: int = 5,
                 max_distance: float = 1.5) -> list[FaceTrack]:
    """Tracks over the detections; ``max_gap``: sampled frames a track may miss and still continue.

    ``max_distance``: the largest centre distance, in mean box sides, accepted when boxes do not overlap.
    """
    open_tracks: list[_Open] = []
    closed: list[_Open] = []
    for frame in sorted(frame_faces, key=lambda f: f.index):
        matched = _match(open_tracks, frame.faces, iou_threshold, max_distance)
        for track in open_tracks:
            track.missed += 1
        for face_number, face in enumerate(frame.faces):
            track = matched.get(face_number)
            if track is None:
                track = _Open()
                open_tracks.append(track)
            track.frame_indices.append(frame.index)
            track.detections.append(face)
            track.missed = 0
        closed += [t for t in open_tracks if t.missed > max_gap]
        open_tracks = [t for t in open_tracks if t.missed <= max_gap]
    return _finish(closed + open_tracks)


def _match(tracks: list[_Open], faces: Sequence[FaceDetection], iou_threshold: float,
           max_distance: float) -> dict[int, _Open]:
    """Greedy assignment, cheapest pair first: face number -> track."""
    pairs = []
    for t, track in enumerate(tracks):
        for f, face in enumerate(faces):
            cost = link_cost(track.detections[-1].box, face.box, iou_threshold, max_distance)
            if cost is not None:
                pairs.append((cost, t, f))
    used_tracks, matched = set(), {}
    for _, t, f in sorted(pairs):
        if t not in used_tracks and f not in matched:
            used_tracks.add(t)
            matched[f] = tracks[t]
    return matched


def track_weight(detections: Sequence[FaceDetection]) -> float:
    """How much a track matters: number of detections x mean box area."""
    return sum(box_area(d.box) for d in detections)


def _finish(tracks: list[_Open]) -> list[FaceTrack]:
    ordered = sorted(tracks, key=lambda t: (-track_weight(t.detections), t.frame_indices[0]))
    return [FaceTrack(track_id=i, frame_indices=tuple(t.frame_indices), detections=tuple(t.detections),
                      is_main=i == 0) for i, t in enumerate(ordered)]
