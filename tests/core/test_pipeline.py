"""extract_faces end to end: crops keyed by track, no-face outcome, cache reuse and repair, cancellation, and the
landmark kinds (calibrated over consecutive frames, cached like crops)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdesk.core import pipeline
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import FRAME_LANDMARKS, LANDMARKS, CropSpec, face_crop
from dfdesk.core.faces import FaceDetector, FaceSettings
from dfdesk.core.landmark_calibration import normalise_landmarks
from dfdesk.core.pipeline import Cancelled, FaceExtraction, extract_faces, run_to_end
from dfdesk.core.probe import probe_video, sha256_file
from dfdesk.core.types import Progress
from tests.core.conftest import SMALL
from tests.fixtures import clips

FACE = CropSpec("face", 64, 0.3, "rgb")
MOUTH = CropSpec("mouth", 88, 0.0, "gray")


def run(path: Path, detector: FaceDetector, indices, **options) -> tuple[list[Progress], FaceExtraction]:
    steps = extract_faces(path, probe_video(path), indices, SMALL, [FACE, MOUTH], detector=detector, **options)
    progress: list[Progress] = []
    return progress, run_to_end(steps, progress.append)


def test_crops_for_every_spec_keyed_by_track_and_frame(detector: FaceDetector, clip_dir: Path) -> None:
    progress, result = run(clip_dir / "face.mp4", detector, range(0, 20, 2))
    assert [p.done for p in progress] == [8, 10] and all(p.total == 10 for p in progress)
    assert not result.no_face and len(result.tracks) == 1 and result.main_track.track_id == 0
    assert set(result.crops[FACE]) == {(0, i) for i in range(0, 20, 2)} == set(result.crops[MOUTH])
    assert result.crops[FACE][(0, 4)].shape == (64, 64, 3) and result.crops[MOUTH][(0, 4)].shape == (88, 88)
    assert [i for i, _ in result.track_crops(FACE, 0)] == list(range(0, 20, 2))
    assert result.warnings == ()


def test_two_face_clip_gives_crops_for_both_tracks(detector: FaceDetector, two_face_clip: Path) -> None:
    _, result = run(two_face_clip, detector, [0, 5, 9])
    assert len(result.tracks) == 2
    assert {key[0] for key in result.crops[FACE]} == {0, 1} and len(result.crops[FACE]) == 6


def test_no_face_is_an_outcome_not_an_error(detector: FaceDetector, clip_dir: Path) -> None:
    _, result = run(clip_dir / "noface.mp4", detector, range(12))
    assert result.no_face and result.tracks == () and result.crops[FACE] == {}
    assert len(result.frames) == 12


def test_cache_hit_returns_the_same_data_without_detecting(detector: FaceDetector, clip_dir: Path,
                                                           tmp_path: Path) -> None:
    path = clip_dir / "face.mp4"
    cache, sha = CropCache(tmp_path / "cache"), sha256_file(path)
    _, first = run(path, detector, [1, 7, 13], cache=cache, sha256=sha)
    progress, second = run(path, None, [1, 7, 13], cache=cache, sha256=sha)  # no detector: must not detect
    assert [p.message for p in progress] == ["from cache"]
    assert second.frames == first.frames and second.tracks == first.tracks
    assert second.shot_starts == first.shot_starts == ()
    for spec in (FACE, MOUTH):
        assert first.crops[spec].keys() == second.crops[spec].keys()
        assert all(np.array_equal(first.crops[spec][k], second.crops[spec][k]) for k in first.crops[spec])


def test_corrupt_cache_entry_is_rebuilt(detector: FaceDetector, clip_dir: Path, tmp_path: Path) -> None:
    path = clip_dir / "face.mp4"
    cache, sha = CropCache(tmp_path / "cache"), sha256_file(path)
    _, first = run(path, detector, [2, 9], cache=cache, sha256=sha)
    entries = sorted((tmp_path / "cache" / sha).glob("*.npz"))
    assert len(entries) == 3  # detections + one file per crop spec
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:100])
    _, rebuilt = run(path, detector, [2, 9], cache=cache, sha256=sha)
    assert rebuilt.frames == first.frames
    assert all(np.array_equal(first.crops[FACE][k], rebuilt.crops[FACE][k]) for k in first.crops[FACE])
    assert cache.load_detections(sha, (2, 9), SMALL) is not None  # written again, readable


def test_a_new_crop_spec_reuses_cached_detections(detector: FaceDetector, clip_dir: Path, tmp_path: Path) -> None:
    path = clip_dir / "face.mp4"
    cache, sha = CropCache(tmp_path / "cache"), sha256_file(path)
    run(path, detector, [3, 5], cache=cache, sha256=sha)
    bigger = CropSpec("face", 96, 0.5, "rgb")
    steps = extract_faces(path, probe_video(path), [3, 5], SMALL, [bigger], cache=cache, sha256=sha, detector=None)
    result = run_to_end(steps)
    assert result.crops[bigger][(0, 3)].shape == (96, 96, 3)


def test_cancel_stops_between_batches(detector: FaceDetector, clip_dir: Path) -> None:
    polls = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) > 1  # allow the first batch, stop before the second

    steps = extract_faces(clip_dir / "face.mp4", probe_video(clip_dir / "face.mp4"), range(20), SMALL, [FACE],
                          detector=detector, cancel=cancel)
    assert next(steps).done == SMALL.batch_size
    with pytest.raises(Cancelled):
        next(steps)


def test_portrait_clip_gives_upright_face_crops(detector: FaceDetector, clip_dir: Path) -> None:
    """The clip is stored turned by 90 degrees with a display matrix: crops must come out upright."""
    _, result = run(clip_dir / "portrait.mp4", detector, [0, 5, 11])
    upright = clips.portrait_upright_frames(12)
    assert len(result.tracks) == 1 and len(result.crops[FACE]) == 3
    for index, detection in zip(result.tracks[0].frame_indices, result.tracks[0].detections):
        (left_eye, right_eye, _, mouth_left, mouth_right) = detection.landmarks
        assert max(left_eye[1], right_eye[1]) < min(mouth_left[1], mouth_right[1])  # eyes above the mouth
        crop, truth = result.crops[FACE][(0, index)].astype(int), face_crop(upright[index], detection, 64, 0.3)
        assert np.abs(crop - truth).mean() < 6 < np.abs(np.rot90(crop) - truth).mean()


def test_large_frames_come_in_smaller_batches(detector: FaceDetector, clip_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    info = probe_video(clip_dir / "face.mp4")  # 320x240: 230 kB per RGB frame
    frame_bytes = info.width * info.height * 3
    assert pipeline.frames_per_batch(16, info) == 16
    monkeypatch.setattr(pipeline, "FRAME_BATCH_BYTES", 3 * frame_bytes + 1)  # as if the frames were 8K ones
    assert pipeline.frames_per_batch(16, info) == 3
    monkeypatch.setattr(pipeline, "FRAME_BATCH_BYTES", 1)
    assert pipeline.frames_per_batch(16, info) == 1  # never zero
    monkeypatch.setattr(pipeline, "FRAME_BATCH_BYTES", 3 * frame_bytes + 1)
    settings = FaceSettings(device="cpu", batch_size=16)
    events: list[Progress] = []
    run_to_end(extract_faces(clip_dir / "face.mp4", info, range(10), settings, [FACE], detector=detector),
               events.append)
    assert [event.done for event in events] == [3, 6, 9, 10]


def test_landmark_kinds_give_68_points_per_face_keyed_by_track(detector: FaceDetector, clip_dir: Path) -> None:
    steps = extract_faces(clip_dir / "face.mp4", probe_video(clip_dir / "face.mp4"), range(0, 10), SMALL,
                          [FACE, LANDMARKS, FRAME_LANDMARKS], detector=detector)
    result = run_to_end(steps)
    assert set(result.crops[LANDMARKS]) == set(result.crops[FRAME_LANDMARKS]) == set(result.crops[FACE])
    for (track, index), points in result.crops[FRAME_LANDMARKS].items():
        normalised = result.crops[LANDMARKS][(track, index)]
        assert points.shape == normalised.shape == (68, 2) and points.dtype == normalised.dtype == np.float32
        x1, y1, x2, y2 = result.tracks[track].detections[result.tracks[track].frame_indices.index(index)].box
        assert (x1 - 10 < points[:, 0]).all() and (points[:, 0] < x2 + 10).all() and (points[:, 1] < y2 + 10).all()
        assert np.abs(normalised).max() <= 1.0  # LRNet's window holds the points' box with a margin
        assert normalised[8, 1] > 0.5 > -0.3 > normalised[36:48, 1].max()  # chin low, eyes high in the window


def test_landmarks_are_calibrated_over_consecutive_frames_and_restart_after_a_gap(detector: FaceDetector,
                                                                                  clip_dir: Path) -> None:
    """Frames 3-4 are not sampled: frame 5 has no predecessor, so its calibrator starts again and the first
    step of a calibrator returns the detected points (normalised like the others)."""
    path = clip_dir / "face.mp4"
    steps = extract_faces(path, probe_video(path), [0, 1, 2, 5, 6], SMALL, [LANDMARKS, FRAME_LANDMARKS],
                          detector=detector)
    result = run_to_end(steps)
    track = result.tracks[0]
    detections = dict(zip(track.frame_indices, track.detections))

    def detected(index: int) -> np.ndarray:  # the raw points, normalised the way LANDMARKS are
        return normalise_landmarks(result.crops[FRAME_LANDMARKS][(0, index)], detections[index])

    for index in (0, 5):  # first frame, and first after the gap: no calibration yet
        assert np.array_equal(result.crops[LANDMARKS][(0, index)], detected(index)), index
    for index in (1, 2, 6):  # continued from the frame before: tracked and fused
        assert not np.array_equal(result.crops[LANDMARKS][(0, index)], detected(index)), index


def test_cached_landmarks_are_returned_without_decoding(detector: FaceDetector, clip_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = clip_dir / "face.mp4"
    cache, sha = CropCache(tmp_path / "cache"), sha256_file(path)
    first = run_to_end(extract_faces(path, probe_video(path), [1, 2, 3, 9], SMALL, [FACE, LANDMARKS, FRAME_LANDMARKS],
                                     cache=cache, sha256=sha, detector=detector))

    def no_decoding(*_args, **_kwargs):
        raise AssertionError("frames were decoded although the landmarks were cached")

    monkeypatch.setattr(pipeline, "open_frames_reader", no_decoding)
    progress: list[Progress] = []
    again = run_to_end(extract_faces(path, probe_video(path), [1, 2, 3, 9], SMALL, [LANDMARKS, FRAME_LANDMARKS],
                                     cache=cache, sha256=sha, detector=None), progress.append)
    assert [p.message for p in progress] == ["from cache"]
    for spec in (LANDMARKS, FRAME_LANDMARKS):
        assert again.crops[spec].keys() == first.crops[spec].keys() and len(first.crops[spec]) == 4
        assert all(again.crops[spec][k].dtype == np.float32 and np.array_equal(again.crops[spec][k], v)
                   for k, v in first.crops[spec].items())
