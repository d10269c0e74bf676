"""Landmarks of the faces in the face pipeline's decoded frames, raw and calibrated over consecutive frames.

The pipeline hands over each batch of decoded frames, in frame order, with their faces.  Every face gets its 68
points from the :class:`~dfdesk.core.landmarks.FaceLandmarker` (all faces of a batch in one model call).  When
calibrated points are wanted (LRNet's input), each face is also followed from frame to frame: a face continues the
face of the previous decoded frame when that frame is the one just before (index - 1) and their boxes overlap by
at least MIN_IOU (best overlap first, one to one); it then keeps that face's
:class:`~dfdesk.core.landmark_calibration.LandmarkCalibrator`.  A face with no such predecessor starts afresh: a
calibrator left over from the previous frame (or a new one) is reset first.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from dfdesk.core.landmark_calibration import LandmarkCalibrator
from dfdesk.core.landmarks import FaceLandmarker
from dfdesk.core.tracking import iou
from dfdesk.core.types import Box, Frame, FrameFaces

MIN_IOU = 0.3  # the same face in consecutive frames overlaps at least this much (as tracking.build_tracks)
FaceKey = tuple[int, int]  # (frame index, face number in that frame)


@dataclass(frozen=True)
class FaceLandmarks:
    """One face's points: ``raw`` as detected, ``calibrated`` after the calibrator (None when not asked for)."""

    raw: np.ndarray  # float32 (68, 2), frame pixels
    calibrated: np.ndarray | None


@dataclass
class _Followed:
    box: Box
    calibrator: LandmarkCalibrator


class LandmarkStream:
    """Feed it the decoded frames in increasing index order with :meth:`add`; one stream per decode pass."""

    def __init__(self, landmarker: FaceLandmarker, calibrate: bool,
                 new_calibrator: Callable[[], LandmarkCalibrator] = LandmarkCalibrator):
        self.landmarker, self.calibrate, self._new_calibrator = landmarker, calibrate, new_calibrator
        self._previous_index: int | None = None
        self._previous: list[_Followed] = []

    def add(self, frames: Sequence[Frame], faces: Sequence[FrameFaces]) -> dict[FaceKey, FaceLandmarks]:
        """Landmarks of every face of these frames (``faces[i]`` belongs to ``frames[i]``)."""
        points = self.landmarker.landmarks_of_frames([(f.image, ff.faces) for f, ff in zip(frames, faces)])
        found: dict[FaceKey, FaceLandmarks] = {}
        for frame, frame_faces, frame_points in zip(frames, faces, points):
            calibrated = self._calibrate(frame, frame_faces, frame_points) if self.calibrate else None
            for number, raw in enumerate(frame_points):
                found[(frame.index, number)] = FaceLandmarks(raw, calibrated[number] if calibrated else None)
        return found

    def _calibrate(self, frame: Frame, frame_faces: FrameFaces, points: list[np.ndarray]) -> list[np.ndarray]:
        followed = self._follow(frame.index, [d.box for d in frame_faces.faces])
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY) if points else None
        return [f.calibrator.step(gray, p) for f, p in zip(followed, points)]

    def _follow(self, index: int, boxes: list[Box]) -> list[_Followed]:
        """This frame's faces, each with the calibrator of the face it continues or a reset one."""
        previous = self._previous if self._previous_index == index - 1 else []
        pairs = continuations(boxes, [p.box for p in previous])
        continued = set(pairs.values())
        spare = [p.calibrator for i, p in enumerate(self._previous) if i not in continued]
        followed = []
        for number, box in enumerate(boxes):
            if number in pairs:
                calibrator = previous[pairs[number]].calibrator
            else:
                calibrator = spare.pop() if spare else self._new_calibrator()
                calibrator.reset()
            followed.append(_Followed(box, calibrator))
        self._previous_index, self._previous = index, followed
        return followed


def continuations(boxes: Sequence[Box], previous: Sequence[Box], min_iou: float = MIN_IOU) -> dict[int, int]:
    """{face number in this frame: face number in the previous frame} for overlapping boxes, best IoU first."""
    candidates = sorted(((iou(box, before), i, j) for i, box in enumerate(boxes) for j, before in enumerate(previous)),
                        reverse=True)
    pairs: dict[int, int] = {}
    for overlap, i, j in candidates:
        if overlap < min_iou:
            break
        if i not in pairs and j not in pairs.values():
            pairs[i] = j
    return pairs
