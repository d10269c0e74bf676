"""Which calibrator each face's landmarks go through: faces followed by box overlap, reset after gaps.

The landmarker and the calibrator are stand-ins here, to isolate the stream's bookkeeping; the real ones run in
tests/core/test_pipeline.py (calibrated landmarks through extract_faces).
"""
from __future__ import annotations

import numpy as np

from dfdesk.core.landmark_stream import LandmarkStream, continuations
from dfdesk.core.types import FaceDetection, Frame, FrameFaces


class PointsAtBoxCorner:
    """Stand-in landmarker: 68 copies of each box's top-left corner."""

    def landmarks_of_frames(self, frames):
        return [[np.tile(np.float32(d.box[:2]), (68, 1)) for d in detections] for _, detections in frames]


class RecordingCalibrator:
    """Stand-in calibrator: remembers its resets and the points it was stepped with; returns them shifted by 1."""

    made: list[RecordingCalibrator] = []

    def __init__(self):
        self.resets, self.steps = 0, []
        RecordingCalibrator.made.append(self)

    def reset(self) -> None:
        self.resets += 1

    def step(self, gray: np.ndarray, points: np.ndarray) -> np.ndarray:
        assert gray.ndim == 2 and gray.dtype == np.uint8
        self.steps.append(float(points[0, 0]))
        return points + 1


def faces_at(index: int, *lefts: float) -> tuple[Frame, FrameFaces]:
    """A frame with one 40x40 face box at each x in ``lefts``."""
    detections = tuple(FaceDetection((x, 10.0, x + 40.0, 50.0), 0.99, ((0.0, 0.0),) * 5) for x in lefts)
    return Frame(index, index / 25, np.zeros((60, 300, 3), np.uint8)), FrameFaces(index, index / 25, detections)


def stream_of(*frames: tuple[Frame, FrameFaces], calibrate: bool = True) -> tuple[LandmarkStream, list]:
    RecordingCalibrator.made = []
    stream = LandmarkStream(PointsAtBoxCorner(), calibrate, new_calibrator=RecordingCalibrator)
    found = stream.add([f for f, _ in frames], [faces for _, faces in frames])
    return stream, found


def test_continuations_pair_overlapping_boxes_best_first_one_to_one() -> None:
    boxes = [(0, 0, 10, 10), (3, 0, 13, 10), (100, 0, 110, 10), (200, 0, 210, 10)]
    previous = [(101, 0, 111, 10), (2, 0, 12, 10)]
    # boxes 0 and 1 both overlap (2, 0, 12, 10); box 1 more (IoU 0.82 against 0.67), so box 0 is a new face
    assert continuations(boxes, previous) == {1: 1, 2: 0}
    assert continuations(boxes, []) == {} and continuations([], previous) == {}


def test_each_face_keeps_its_calibrator_while_it_is_seen_in_consecutive_frames() -> None:
    _, found = stream_of(faces_at(0, 10, 200), faces_at(1, 205, 14), faces_at(2, 18))  # faces listed swapped
    first, second = RecordingCalibrator.made
    assert first.steps == [10, 14, 18] and second.steps == [200, 205]
    assert all(c.resets == 1 for c in RecordingCalibrator.made)  # reset once, when each face appeared
    assert set(found) == {(0, 0), (0, 1), (1, 0), (1, 1), (2, 0)}
    assert found[(1, 1)].raw[0, 0] == 14 and found[(1, 1)].calibrated[0, 0] == 15


def test_a_gap_in_the_frames_resets_the_calibrators() -> None:
    stream, _ = stream_of(faces_at(0, 10), faces_at(1, 12))
    (calibrator,) = RecordingCalibrator.made
    stream.add(*zip(faces_at(3, 14)))  # frame 2 was not decoded: no predecessor
    assert calibrator.resets == 2 and calibrator.steps == [10, 12, 14]
    stream.add(*zip(faces_at(4, 150)))  # consecutive, but no overlap: another face
    assert calibrator.resets == 3 and len(RecordingCalibrator.made) == 1  # the spare calibrator is reused


def test_without_calibration_only_raw_points_are_given() -> None:
    _, found = stream_of(faces_at(0, 10), faces_at(1, 12), calibrate=False)
    assert RecordingCalibrator.made == [] and all(f.calibrated is None for f in found.values())
    assert found[(1, 0)].raw.shape == (68, 2)
