"""Tracking on hand-made detections: sparse frames, crossings of size, gaps, main track."""
from __future__ import annotations

import numpy as np

from dfdesk.core.tracking import build_tracks, find_shot_starts, frame_signature, iou
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
    moving = frames([face(0, 100, 80)], [face(90, 110, 80)], [face(170, 100, 84)], step=20)  # 0.8 s apart
    (track,) = build_tracks(moving)
    assert track.frame_indices == (0, 20, 40) and track.is_main and track.track_id == 0


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
    seen = [[face(0, 0, 40)] for _ in range(4)]  # small face in 4 frames: weight 4 x 40
    seen[0].append(face(300, 0, 150))  # big face in 1 frame: seen too rarely to be the main one
    tracks = build_tracks(frames(*seen))
    assert len(tracks[0].detections) == 4 and tracks[0].is_main
    seen[1].append(face(305, 0, 150))  # big face now in 2 of 4 frames, weight 2 x 150 > 4 x 40
    tracks = build_tracks(frames(*seen))
    assert len(tracks[0].detections) == 2 and tracks[0].detections[0].box[2] == 450


def test_a_big_face_in_two_frames_never_beats_a_face_present_in_most_frames() -> None:
    """hamilton_clip: a close-up profile in 2 frames, the performer in 15 of 30."""
    seen = [[face(1000, 0, 600)], [face(1010, 0, 600)]] + [[] for _ in range(13)]
    seen += [[face(200 + 3 * i, 50, 90)] for i in range(15)]
    tracks = build_tracks(frames(*seen, step=9))
    assert [len(t.detections) for t in tracks] == [15, 2] and tracks[0].is_main


def test_distance_fallback_refuses_long_gaps_and_different_sizes() -> None:
    apart = [[face(0, 100, 80)], [face(90, 110, 80)]]  # no overlap, 1.1 box sides apart
    assert len(build_tracks(frames(*apart, step=25))) == 1  # 1 s apart at 25 frames/s
    assert len(build_tracks(frames(*apart, step=50))) == 2  # 2 s apart: too long to trust distance
    assert len(build_tracks(frames(*apart, step=50), max_fallback_gap_s=3.0)) == 1
    grown = [[face(0, 100, 80)], [face(90, 110, 130)]]  # side 1.6x larger: someone else
    assert len(build_tracks(frames(*grown, step=10))) == 2


def test_a_shot_change_ends_every_track() -> None:
    """Two people filmed at the same place on either side of a cut (hamilton_clip) stay apart."""
    same_place = frames([face(250, 30, 85)], [face(255, 32, 85)], [face(290, 30, 80)], [face(292, 31, 80)], step=17)
    assert len(build_tracks(same_place)) == 1
    tracks = build_tracks(same_place, shot_starts={34})
    assert [t.frame_indices for t in tracks] == [(0, 17), (34, 51)]


def test_shot_changes_are_found_from_colour_histograms() -> None:
    rng = np.random.default_rng(0)
    stage = np.zeros((360, 640, 3), np.uint8)
    stage[:] = (120, 80, 30)  # a warm stage
    audience = rng.integers(0, 60, (360, 640, 3), dtype=np.uint8)  # a dark, noisy crowd
    moved = np.roll(stage, 40, axis=1).copy()
    moved[100:200, 300:380] = (200, 170, 150)  # a face moving in the same shot
    shots = [(0, stage), (10, moved), (20, audience), (30, audience[:, ::-1])]
    assert find_shot_starts([(i, frame_signature(image)) for i, image in shots]) == (20,)


def test_a_track_survives_a_short_gap_but_not_a_long_one() -> None:
    short = frames([face(0, 0, 80)], [], [], [face(5, 0, 80)])
    assert len(build_tracks(short, max_gap=2)) == 1
    assert len(build_tracks(short, max_gap=1)) == 2


# --- two thresholds (ByteTrack): weak faces only continue tracks that a confident face started ---------------------


def scored(x: float, y: float, side: float, score: float) -> FaceDetection:
    return FaceDetection((x, y, x + side, y + side), score, ((x, y),) * 5)


def test_a_face_that_dims_then_recovers_stays_one_track() -> None:
    scores = [0.99, 0.98, 0.82, 0.75, 0.8, 0.97, 0.99]
    seen = frames(*[[scored(100 + 4 * i, 50, 90, s)] for i, s in enumerate(scores)], step=5)
    (track,) = build_tracks(seen, start_score=0.9)
    assert len(track.detections) == len(scores) and [d.score for d in track.detections] == scores
    split = build_tracks([FrameFaces(f.index, f.time_s, tuple(d for d in f.faces if d.score >= 0.9)) for f in seen],
                         start_score=0.9, max_gap=1)
    assert [len(t.detections) for t in split] == [2, 2]  # one threshold: the dim frames are lost and the track breaks


def test_a_low_score_blob_alone_never_starts_a_track() -> None:
    blob = frames(*[[scored(300, 200, 60, 0.8)] for _ in range(6)])
    assert build_tracks(blob, start_score=0.9) == []
    assert len(build_tracks(blob)) == 1  # with one threshold at 0 the same blob would be a face


def test_a_weak_face_far_from_every_track_is_dropped() -> None:
    seen = frames([scored(0, 0, 80, 0.99)], [scored(2, 0, 80, 0.99), scored(400, 300, 80, 0.85)])
    (track,) = build_tracks(seen, start_score=0.9)
    assert [d.box[0] for d in track.detections] == [0, 2]


def test_weak_faces_before_the_first_confident_one_join_its_track() -> None:
    seen = frames([scored(100, 50, 90, 0.78)], [scored(102, 50, 90, 0.8)], [scored(104, 50, 90, 0.99)], step=5)
    (track,) = build_tracks(seen, start_score=0.9)
    assert track.frame_indices == (0, 5, 10)


def test_weak_faces_continue_a_track_only_by_overlap() -> None:
    """The distance fallback links confident faces of a moving person; a weak face must overlap."""
    confident = frames([scored(0, 100, 80, 0.99)], [scored(90, 110, 80, 0.99)], step=20)
    assert len(build_tracks(confident, start_score=0.9)) == 1
    weak = frames([scored(0, 100, 80, 0.99)], [scored(90, 110, 80, 0.8)], step=20)
    assert [t.frame_indices for t in build_tracks(weak, start_score=0.9)] == [(0,)]


def test_a_weak_face_overlapping_only_the_predicted_box_continues_the_track() -> None:
    """A face moving 50 px per sampled frame: its next weak box misses the last box but sits on the prediction."""
    seen = frames([scored(0, 0, 100, 0.99)], [scored(50, 0, 100, 0.99)], [scored(150, 0, 100, 0.8)], step=10)
    (track,) = build_tracks(seen, start_score=0.9)
    assert track.frame_indices == (0, 10, 20)
    assert iou(seen[1].faces[0].box, seen[2].faces[0].box) < 0.3  # the last box alone would not have linked it


def test_confident_faces_are_linked_before_weak_ones() -> None:
    """A weak duplicate overlapping the track better must not take the place of the confident face."""
    seen = frames([scored(0, 0, 100, 0.99)],
                  [scored(0, 0, 100, 0.8), scored(20, 0, 100, 0.95)], step=5)
    (track,) = build_tracks(seen, start_score=0.9)
    assert [d.score for d in track.detections] == [0.99, 0.95]
