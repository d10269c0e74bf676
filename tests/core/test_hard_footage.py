"""The face pipeline on generated hard footage, real MTCNN throughout: grainy faces that score low stay in their
track, a low-score blob alone never becomes one, dark frames are normalised for detection only, faceless dark
noise gives no face, and sampled frames without the main face are topped up from frames near them.

Frames are written as PNG stills (a frame folder, read like a video) so MTCNN sees exactly the generated pixels.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.detection_copy import detection_copy, needs_normalising
from dfdesk.core.face_presence import NO_FACE, TrackPresence
from dfdesk.core.faces import FaceDetector, FaceSettings
from dfdesk.core.frame_folder import probe_frame_folder, sha256_frame_folder
from dfdesk.core.pipeline import TOP_UP_MESSAGE, FaceExtraction, extract_faces, run_to_end
from dfdesk.core.types import Frame, FrameFaces
from tests.core.conftest import SMALL
from tests.fixtures import clips

FACE = CropSpec("face", 64, 0.3, "rgb")


def write_folder(folder: Path, images: list[np.ndarray]) -> Path:
    """Frames 1.png, 2.png, ... of ``images`` (frame index = position)."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, image in enumerate(images, start=1):
        Image.fromarray(image).save(folder / f"{number}.png")
    return folder


def extract(folder: Path, indices, settings: FaceSettings, detector, **options) -> FaceExtraction:
    return run_to_end(extract_faces(folder, probe_frame_folder(folder), indices, settings, [FACE], detector=detector,
                                    **options))


def grainy_faces(n_frames: int = 12, sigma: float = 65.0) -> list[np.ndarray]:
    """A face moving across the frame under strong sensor noise (seeded: the same pixels every run); MTCNN scores
    it 0.75-1.0, under min_score in about half the frames, the first three among them."""
    rng = np.random.default_rng(1)
    return [np.clip(clips.face_frame(320, 240, i, n_frames) + rng.normal(0, sigma, (240, 320, 3)), 0, 255)
            .astype(np.uint8) for i in range(n_frames)]


def scores(detector: FaceDetector, images: list[np.ndarray], floor: float) -> list[list[float]]:
    found = detector.detect([Frame(i, i / 25, image) for i, image in enumerate(images)], floor)
    return [[d.score for d in f.faces] for f in found]


def test_a_grainy_face_scoring_under_min_score_stays_in_its_track(detector: FaceDetector, tmp_path: Path) -> None:
    images = grainy_faces()
    found = scores(detector, images, SMALL.continue_score)
    weak = [i for i, s in enumerate(found) if s and max(s) < SMALL.min_score]
    assert weak and max(weak) < max(i for i, s in enumerate(found) if s and max(s) >= SMALL.min_score)  # the premise
    folder = write_folder(tmp_path / "grainy", images)
    result = extract(folder, range(len(images)), SMALL, detector)
    with_face = [i for i, s in enumerate(found) if s]
    assert len(result.tracks) == 1 and result.main_track.frame_indices == tuple(with_face)
    one_threshold = extract(folder, range(len(images)), replace(SMALL, continue_score=SMALL.min_score), detector)
    assert set(weak).isdisjoint(f for t in one_threshold.tracks for f in t.frame_indices)


def test_a_low_score_blob_alone_never_becomes_a_track(detector: FaceDetector, tmp_path: Path) -> None:
    """A faint, grainy face that MTCNN scores between continue_score and min_score in every frame."""
    rng = np.random.default_rng(0)
    face = clips.face_frame(320, 240, 0, 12).astype(float)
    faint = np.clip((face - face.mean()) * 0.3 + face.mean() + rng.normal(0, 20, face.shape), 0, 255).astype(np.uint8)
    (score,) = scores(detector, [faint], SMALL.continue_score)[0]
    assert SMALL.continue_score <= score < SMALL.min_score  # the premise: a weak detection
    folder = write_folder(tmp_path / "faint", [faint] * 4)
    result = extract(folder, range(4), SMALL, detector)
    assert result.no_face and all(not f.faces for f in result.frames)
    assert len(extract(folder, range(4), replace(SMALL, min_score=SMALL.continue_score), detector).tracks) == 1


def faceless_dark_frames(n_frames: int = 8) -> list[np.ndarray]:
    """Dark, noisy, low-contrast footage without a face: a gradient, skin-coloured ellipses, grain."""
    rng = np.random.default_rng(1)
    frames = []
    for i in range(n_frames):
        image = np.zeros((360, 640, 3), np.float64)
        image += np.linspace(5, 45, 640)[None, :, None]
        for k in range(4):
            centre = (80 + 150 * k + 5 * i, 120 + 40 * (k % 2))
            cv2.ellipse(image, centre, (45, 60), 10 * k, 0, 360, (60, 42, 35), -1)
        frames.append(np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8))
    return frames


def test_no_face_is_found_in_generated_dark_grainy_footage_without_a_face(tmp_path: Path) -> None:
    images = faceless_dark_frames()
    assert all(needs_normalising(image) for image in images)  # the normalised detection copy is what MTCNN sees
    settings = FaceSettings(device="cpu")  # what an analysis uses
    result = extract(write_folder(tmp_path / "dark", images), range(len(images)), settings, FaceDetector(settings))
    assert result.no_face and result.added_frames == () and all(not f.faces for f in result.frames)
    assert result.presence.main == TrackPresence(len(images), 0) and dict(result.presence.missing) == {NO_FACE: 8}


class ReplayDetector:
    """Isolates detection: returns the faces another run found, so crops can be compared face for face."""

    def __init__(self, frames: list[FrameFaces]):
        self.faces = {f.index: f for f in frames}

    def detect(self, frames, min_score=None):
        return [self.faces.get(f.index, FrameFaces(f.index, f.time_s, ())) for f in frames]


def test_scored_crops_are_the_evidence_pixels_with_and_without_normalisation(detector: FaceDetector,
                                                                            tmp_path: Path) -> None:
    images = [(clips.face_frame(320, 240, i, 6) * 0.15).astype(np.uint8) for i in range(6)]  # mean lightness ~15
    assert all(needs_normalising(image) for image in images)
    folder = write_folder(tmp_path / "dark", images)
    normalised = extract(folder, range(6), SMALL, detector)
    assert len(normalised.crops[FACE]) == 6
    plain = extract(folder, range(6), replace(SMALL, normalise_dark=False), ReplayDetector(list(normalised.frames)))
    assert normalised.crops[FACE].keys() == plain.crops[FACE].keys()
    for (track, index), crop in normalised.crops[FACE].items():
        assert crop.tobytes() == plain.crops[FACE][(track, index)].tobytes()
        detection = normalised.tracks[track].detections[normalised.tracks[track].frame_indices.index(index)]
        assert crop.tobytes() == FACE.cut(images[index], detection).tobytes()  # cut from the evidence itself ...
        assert crop.tobytes() != FACE.cut(detection_copy(images[index], 1.0), detection).tobytes()  # ... not the copy


def footage_with_gaps(n_frames: int, blank: set[int]) -> list[np.ndarray]:
    """A face moving slowly across the frame; on the ``blank`` frames only the background (the same colours: no cut)."""
    return [np.full((240, 320, 3), (60 + i % 20, 90, 120), np.uint8) if i in blank
            else clips.face_frame(320, 240, i, 10 * n_frames) for i in range(n_frames)]


@pytest.fixture(scope="module")
def gappy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 frames sampled at 5, 15, 25, 35: no face on 15 nor on 19 (tried first), a face on 11 (tried next);
    no face on 25 nor on either frame tried for it (29, 21)."""
    return write_folder(tmp_path_factory.mktemp("gaps") / "video", footage_with_gaps(40, {15, 19, 21, 25, 29}))


def test_a_sampled_frame_without_the_main_face_is_topped_up_from_a_frame_near_it(detector: FaceDetector,
                                                                                 gappy_folder: Path) -> None:
    progress = []
    result = run_to_end(extract_faces(gappy_folder, probe_frame_folder(gappy_folder), [5, 15, 25, 35], SMALL, [FACE],
                                      detector=detector), progress.append)
    assert [f.index for f in result.frames] == [5, 15, 25, 35] and not result.frames[1].faces
    assert result.added == {15: 11} and [f.index for f in result.added_frames] == [11]
    assert result.main_track.frame_indices == (5, 11, 35)
    assert result.presence.main == TrackPresence(4, 3, 1) and dict(result.presence.missing) == {NO_FACE: 1}
    assert result.warnings[-1] == ("the main face was found in 3 of 4 sampled frames (75 %; 1 through a frame "
                                   f"nearby); 1 {NO_FACE}")
    assert [p.message for p in progress][-1] == TOP_UP_MESSAGE and progress[-1].total == 4  # tried 19, 11, 29, 21
    image = np.asarray(Image.open(gappy_folder / "12.png"))  # frame 11
    assert np.array_equal(result.crops[FACE][(0, 11)], FACE.cut(image, result.main_track.detections[1]))


def test_top_up_is_cached_with_the_detections_and_can_be_turned_off(detector: FaceDetector, gappy_folder: Path,
                                                                    tmp_path: Path) -> None:
    info, indices = probe_frame_folder(gappy_folder), [5, 15, 25, 35]
    cache, sha = CropCache(tmp_path / "cache"), sha256_frame_folder(gappy_folder)
    first = run_to_end(extract_faces(gappy_folder, info, indices, SMALL, [FACE], cache=cache, sha256=sha,
                                     detector=detector))
    bigger = CropSpec("face", 96, 0.3, "rgb")
    again = run_to_end(extract_faces(gappy_folder, info, indices, SMALL, [FACE, bigger], cache=cache, sha256=sha,
                                     detector=None))  # detections cached: only the new crops are cut
    assert again.added == first.added == {15: 11} and again.tracks == first.tracks
    assert set(again.crops[bigger]) == set(first.crops[FACE]) and (0, 11) in again.crops[bigger]
    off = extract(gappy_folder, indices, replace(SMALL, top_up=False), detector)
    assert off.added_frames == () and off.main_track.frame_indices == (5, 35)
    assert off.presence.main == TrackPresence(4, 2)
