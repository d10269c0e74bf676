"""Tracking on hand-made detections: sparse frames, crossings of size, gaps, main track."""
from __future__ import annotations

from dfdesk.core.tracking import build_tracks, iou
from dfdesk.core.types import FaceDetection, FrameFaces


def face(x: float, y: float, side: float) -> FaceDetection:
    return FaceDetection((x, y, x + side, y + side), 0.99, ((x, y),) * 5)


def frames(*faces_per_frame, step: int = 100) -> list[FrameFaces]:
    return [FrameFaces(i * step, i * step / 25, tuple(faces)) for i, faces in enumerate(faces_per_frame)]


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 1 / 3
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_sparse_frames_link_by_distance_when_boxes_no_longer_overlap() -> None:
    moving = frames([face(0, 100, 80)], [face(90, 110, 80)], [face(170, 100, 84)])
    (track,) = build_tracks(moving)
    assert track.frame_indices == (0, 100, 200) and track.is_main and track.track_id == 0


def test_far_apart_or_differently_sized_faces_are_different_people() -> None:
    tracks = build_tracks(frames([face(0, 0, 80)], [face(400, 0, 80)], [face(0, 0, 20)]))
    assert len(tracks) == 3


def test_two_people_keep_their_own_tracks() -> None:
    left, right = [face(10 + 5 * i, 50, 80) for i in range(4)], [face(300 - 5 * i, 50, 60) for i in range(4)]
    order = [[left[0], right[0]], [right[1], left[1]], [left[2], right[2]], [right[3], left[3]]]
    tracks = build_tracks(frames(*order))
    assert [len(t.detections) for t in tracks] == [4, 4]
    assert set(tracks[0].detections) == set(left) and tracks[0].is_main  # larger face
    assert set(tracks[1].detections) == set(right) and not tracks[1].is_main


def test_main_track_weighs_detections_and_size() -> None:
    seen = [[face(0, 0, 40)] for _ in range(4)]  # small face in 4 frames: weight 4 x 1600
    seen[0].append(face(300, 0, 120))  # big face in 1 frame: weight 14400
    tracks = build_tracks(frames(*seen))
    assert len(tracks[0].detections) == 1 and tracks[0].is_main
    seen[0][1] = face(300, 0, 70)  # 4900 < 6400: now the frequent small face is the main one
    assert len(build_tracks(frames(*seen))[0].detections) == 4


def test_a_track_survives_a_short_gap_but_not_a_long_one() -> None:
    short = frames([face(0, 0, 80)], [], [], [face(5, 0, 80)])
    assert len(build_tracks(short, max_gap=2)) == 1
    assert len(build_tracks(short, max_gap=1)) == 2
