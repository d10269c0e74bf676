"""Link per-frame face detections into one track per person.

Frames are visited in index order; each detection joins the track whose last box overlaps it
most (IoU).  When sampled frames lie a little apart and boxes no longer overlap, a detection
may still join the track whose last box centre is near (relative to the box size), but only
when the boxes are of similar size and the frames at most ``max_fallback_gap_s`` apart.
A shot change (a cut, found from colour histograms of the sampled frames) closes every open
track: two people filmed at the same place on either side of a cut never share a track.

Two score thresholds, as ByteTrack does (Zhang et al., "ByteTrack: Multi-Object Tracking by
Associating Every Detection Box", ECCV 2022): detections scoring at least ``start_score`` are
confident; the others are weak.  Confident detections are linked first; weak ones then only
continue a track left unmatched in that frame, and only when they overlap its last or its
predicted box (no distance fallback).  A track is kept only when it holds a confident
detection: weak detections seen before a track's first confident one join it when they
overlap, and a weak detection that never joins a confident track is never a face.

The main track is the one a person would pick: among the tracks seen in at least half as many
frames as the most-seen track, the one with the largest detections x mean face side.  It gets
id 0; the others follow in that order.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from dfdesk.core.types import Box, FaceDetection, FaceTrack, FrameFaces

MAX_SIZE_RATIO = 1.5  # distance links: a face whose side is 1.5x larger (or smaller) is someone else
MAX_FALLBACK_GAP_S = 1.0  # distance links only between frames at most this far apart
MAIN_MIN_SHARE = 0.5  # the main track is seen in at least this share of the most-seen track's frames
SHOT_CHANGE = 0.35  # share of pixels whose colour moved between histogram bins: a cut
SIGNATURE_SIZE = (64, 36)  # thumbnail the colour histogram is taken from
SIGNATURE_BINS = (8, 4, 4)  # hue, saturation, value


@dataclass
class _Open:
    frame_indices: list[int] = field(default_factory=list)
    detections: list[FaceDetection] = field(default_factory=list)
    times_s: list[float] = field(default_factory=list)
    missed: int = 0  # sampled frames since the last detection
    confirmed: bool = False  # holds a confident detection: only confirmed tracks are kept

    def add(self, frame: FrameFaces, face: FaceDetection, confident: bool) -> None:
        self.frame_indices.append(frame.index)
        self.detections.append(face)
        self.times_s.append(frame.time_s)
        self.missed = 0
        self.confirmed = self.confirmed or confident

    def predicted_box(self, time_s: float) -> Box:
        """The last box moved on at the velocity between the track's last two faces (the last box when it has one)."""
        last = self.detections[-1].box
        if len(self.detections) < 2 or self.times_s[-1] == self.times_s[-2]:
            return last
        before = self.detections[-2].box
        steps = (time_s - self.times_s[-1]) / (self.times_s[-1] - self.times_s[-2])
        return tuple(b + (b - a) * steps for a, b in zip(before, last))


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


def link_cost(a: Box, b: Box, iou_threshold: float, max_distance: float, gap_s: float = 0.0,
              max_fallback_gap_s: float = MAX_FALLBACK_GAP_S) -> float | None:
    """Lower is a better match; None when the boxes cannot be the same face.

    ``gap_s``: seconds between the two frames; the distance fallback is refused past ``max_fallback_gap_s``.
    """
    overlap = iou(a, b)
    if overlap >= iou_threshold:
        return 1.0 - overlap
    if gap_s > max_fallback_gap_s:
        return None
    side_ratio = (box_area(a) / max(box_area(b), 1e-6)) ** 0.5
    distance = centre_distance(a, b)
    if distance <= max_distance and 1 / MAX_SIZE_RATIO <= side_ratio <= MAX_SIZE_RATIO:
        return 1.0 + distance
    return None


def overlap_cost(track: _Open, box: Box, time_s: float, iou_threshold: float) -> float | None:
    """1 - IoU with the track's last or predicted box, whichever overlaps more; None under ``iou_threshold``."""
    overlap = max(iou(track.detections[-1].box, box), iou(track.predicted_box(time_s), box))
    return 1.0 - overlap if overlap >= iou_threshold else None


def build_tracks(frame_faces: Sequence[FrameFaces], iou_threshold: float = 0.3, max_gap: int = 5,
                 max_distance: float = 1.5, *, shot_starts: Collection[int] = (),
                 max_fallback_gap_s: float = MAX_FALLBACK_GAP_S, start_score: float = 0.0) -> list[FaceTrack]:
    """Tracks over the detections; ``max_gap``: sampled frames a track may miss and still continue.

    ``max_distance``: the largest centre distance, in mean box sides, accepted when boxes do not overlap.
    ``shot_starts``: frame indices that begin a new shot; every open track ends before them.
    ``start_score``: detections scoring under it are weak: they only continue tracks (see the module's text).
    """
    rules = _Rules(iou_threshold, max_distance, max_fallback_gap_s, start_score)
    open_tracks: list[_Open] = []
    closed: list[_Open] = []
    for frame in sorted(frame_faces, key=lambda f: f.index):
        if frame.index in shot_starts:
            closed, open_tracks = closed + open_tracks, []
        matched = _match(open_tracks, frame, rules)
        for track in open_tracks:
            track.missed += 1
        for face_number, face in enumerate(frame.faces):
            track = matched.get(face_number)
            if track is None:
                track = _Open()
                open_tracks.append(track)
            track.add(frame, face, confident=rules.confident(face))
        closed += [t for t in open_tracks if t.missed > max_gap]
        open_tracks = [t for t in open_tracks if t.missed <= max_gap]
    return _finish([t for t in closed + open_tracks if t.confirmed])


@dataclass(frozen=True)
class _Rules:
    iou_threshold: float
    max_distance: float
    max_fallback_gap_s: float
    start_score: float

    def confident(self, face: FaceDetection) -> bool:
        return face.score >= self.start_score

    def cost(self, track: _Open, face: FaceDetection, time_s: float) -> float | None:
        """Confident faces join confirmed tracks by overlap or distance; anything else needs overlap."""
        if self.confident(face) and track.confirmed:
            return link_cost(track.detections[-1].box, face.box, self.iou_threshold, self.max_distance,
                             abs(time_s - track.times_s[-1]), self.max_fallback_gap_s)
        return overlap_cost(track, face.box, time_s, self.iou_threshold)


def _match(tracks: list[_Open], frame: FrameFaces, rules: _Rules) -> dict[int, _Open]:
    """Face number -> track: confident faces first, then weak faces on the tracks still free (ByteTrack's order)."""
    confident = [f for f, face in enumerate(frame.faces) if rules.confident(face)]
    weak = [f for f, face in enumerate(frame.faces) if not rules.confident(face)]
    matched = _greedy(tracks, frame, confident, rules)
    free = [t for t in tracks if all(t is not m for m in matched.values())]
    return matched | _greedy(free, frame, weak, rules)


def _greedy(tracks: list[_Open], frame: FrameFaces, face_numbers: list[int], rules: _Rules) -> dict[int, _Open]:
    """Greedy assignment, cheapest pair first: face number -> track."""
    pairs = []
    for t, track in enumerate(tracks):
        for f in face_numbers:
            cost = rules.cost(track, frame.faces[f], frame.time_s)
            if cost is not None:
                pairs.append((cost, t, f))
    used_tracks, matched = set(), {}
    for _, t, f in sorted(pairs):
        if t not in used_tracks and f not in matched:
            used_tracks.add(t)
            matched[f] = tracks[t]
    return matched


def track_weight(detections: Sequence[FaceDetection]) -> float:
    """How much a track matters among the frequent ones: detections x mean face side (sqrt of box area)."""
    return sum(box_area(d.box) ** 0.5 for d in detections)


def main_order(tracks: Sequence[Sequence[FaceDetection]]) -> list[int]:
    """Positions of ``tracks`` (lists of detections), most important first.

    Tracks seen in at least MAIN_MIN_SHARE of the most-seen track's frames come first, by weight;
    so a big face seen twice never outranks a face present in most frames.
    """
    most = max((len(t) for t in tracks), default=0)
    return sorted(range(len(tracks)),
                  key=lambda i: (len(tracks[i]) < MAIN_MIN_SHARE * most, -track_weight(tracks[i])))


def _finish(tracks: list[_Open]) -> list[FaceTrack]:
    tracks = sorted(tracks, key=lambda t: t.frame_indices[0])  # ties keep the earliest track first
    ordered = [tracks[i] for i in main_order([t.detections for t in tracks])]
    return [FaceTrack(track_id=i, frame_indices=tuple(t.frame_indices), detections=tuple(t.detections),
                      is_main=i == 0) for i, t in enumerate(ordered)]


def frame_signature(image: np.ndarray) -> np.ndarray:
    """Normalised HSV colour histogram of a small thumbnail of an RGB frame (what shot changes compare)."""
    small = cv2.resize(image, SIGNATURE_SIZE, interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], None, list(SIGNATURE_BINS), [0, 180, 0, 256, 0, 256]).ravel()
    return histogram / max(float(histogram.sum()), 1.0)


def shot_change(a: np.ndarray, b: np.ndarray, threshold: float = SHOT_CHANGE) -> bool:
    """True when two frame signatures differ enough to lie on either side of a cut."""
    return 0.5 * float(np.abs(a - b).sum()) > threshold


def find_shot_starts(signatures: Sequence[tuple[int, np.ndarray]], threshold: float = SHOT_CHANGE) -> tuple[int, ...]:
    """Frame indices, among (index, signature) pairs in index order, where a new shot begins."""
    return tuple(b[0] for a, b in zip(signatures, signatures[1:]) if shot_change(a[1], b[1], threshold))
