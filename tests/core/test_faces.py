"""Real MTCNN on generated clips: full-resolution boxes, no false faces, one track per person."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.faces import FaceDetector, detection_scale
from dfdesk.core.probe import probe_video
from dfdesk.core.tracking import build_tracks
from dfdesk.core.types import Frame
from dfdesk.core.video import iter_frames
from tests.fixtures import clips


def face_square(width: int, height: int, index: int, n_frames: int) -> tuple[int, int, int, int]:
    """Where face_frame pasted the astronaut patch (x1, y1, x2, y2)."""
    side = min(width, height) // 2
    x = int(max(width - side, 1) * index / max(n_frames - 1, 1))
    y = (height - side) // 2
    return x, y, x + side, y + side


def inside(point, square, slack=0.0) -> bool:
    x1, y1, x2, y2 = square
    return x1 - slack <= point[0] <= x2 + slack and y1 - slack <= point[1] <= y2 + slack


def test_face_found_in_every_frame_in_full_resolution_coordinates(detector: FaceDetector, clip_dir: Path) -> None:
    path = clip_dir / "face.mp4"
    info = probe_video(path)
    frames = list(iter_frames(path, info, range(0, info.frame_count, 4)))
    results = detector.detect(frames)
    assert detection_scale(info.width, info.height, detector.settings.detect_longest_side) == 1.0
    for frame, found in zip(frames, results):
        assert found.index == frame.index and len(found.faces) == 1
        face = found.faces[0]
        square = face_square(info.width, info.height, frame.index, info.frame_count)
        centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
        assert inside(centre, square) and face.score > 0.9
        assert all(inside(p, face.box, slack=5) for p in face.landmarks)


def test_boxes_are_mapped_back_from_the_downscaled_copy(detector: FaceDetector) -> None:
    """A 1280x960 frame is detected at 320x240; the box must come back in 1280x960 pixels."""
    small = clips.face_frame(320, 240, 3, 10)
    large = clips.face_frame(1280, 960, 3, 10)
    found_small, found_large = detector.detect([Frame(0, 0.0, small), Frame(1, 0.1, large)])
    box_small, box_large = np.array(found_small.faces[0].box), np.array(found_large.faces[0].box)
    assert np.allclose(box_large, 4 * box_small, atol=12)
    assert inside(((box_large[0] + box_large[2]) / 2, (box_large[1] + box_large[3]) / 2),
                  face_square(1280, 960, 3, 10))


def test_no_face_clip_gives_no_track(detector: FaceDetector, clip_dir: Path) -> None:
    path = clip_dir / "noface.mp4"
    found = detector.detect(list(iter_frames(path, probe_video(path))))
    assert all(not f.faces for f in found)
    assert build_tracks(found) == []


def test_two_faces_give_two_tracks(detector: FaceDetector, two_face_clip: Path) -> None:
    info = probe_video(two_face_clip)
    found = detector.detect(list(iter_frames(two_face_clip, info, [0, 3, 6, 9])))
    assert all(len(f.faces) == 2 for f in found)
    tracks = build_tracks(found)
    assert len(tracks) == 2 and [t.is_main for t in tracks].count(True) == 1
    for track in tracks:
        assert track.frame_indices == (0, 3, 6, 9)
        xs = [(d.box[0] + d.box[2]) / 2 for d in track.detections]
        assert max(xs) - min(xs) < info.width / 4  # each track stays on its own side


def test_detections_below_min_score_are_dropped(detector: FaceDetector, two_face_clip: Path) -> None:
    frames = list(iter_frames(two_face_clip, probe_video(two_face_clip), [0, 6]))
    scores = sorted(d.score for f in detector.detect(frames) for d in f.faces)
    assert len(scores) == 4 and scores[0] >= detector.settings.min_score == 0.9
    strict = FaceDetector(replace(detector.settings, min_score=scores[0] + 1e-9))
    kept = sorted(d.score for f in strict.detect(frames) for d in f.faces)
    assert kept == pytest.approx(scores[1:])
