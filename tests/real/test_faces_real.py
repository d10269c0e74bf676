"""The face pipeline on real footage: faces found in FF++ clips, tracks in a multi-person clip, mouth framing.

The mouth-crop reference is LipForensics' example ``mouths/real.avi`` (96x96 grayscale crops of a FF++
clip); its centre 88x88 has the lip line on row 43 (darkest row of the mean crop, centre columns).
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from dfdesk.core.crops import MOUTH_CROP, MOUTH_REGION, CropSpec, mouth_matrix
from dfdesk.core.face_presence import OTHERS_ONLY
from dfdesk.core.faces import FaceSettings
from dfdesk.core.pipeline import FaceExtraction, extract_faces, run_to_end
from dfdesk.core.probe import probe_video
from dfdesk.core.sampling import plan_sampling

pytestmark = pytest.mark.real

FRAMES = 16
SETTINGS = FaceSettings()  # what an analysis uses
MOUTH = CropSpec("mouth", MOUTH_CROP, 0.0, "gray")


@cache
def faces_of(path: Path) -> FaceExtraction:
    """16 uniform frames through the pipeline, with mouth crops; each clip is run once per test session."""
    info = probe_video(path)
    plan = plan_sampling(info.frame_count, "uniform", frames=FRAMES)
    return run_to_end(extract_faces(path, info, plan.indices, SETTINGS, [MOUTH]))


def lip_row(image: np.ndarray) -> int:
    """Row of the darkest band across the centre columns of a mouth crop (the gap between the lips)."""
    return 20 + int(np.argmin(image[20:70, 30:58].astype(float).mean(axis=1)))


@pytest.fixture(scope="module")
def ffpp_clips(shared_data: Path) -> list[Path]:
    clips = sorted((shared_data / "videos" / "ffpp").glob("*.mp4"))
    assert len(clips) >= 7
    return clips


def test_a_face_is_found_in_at_least_95_percent_of_sampled_ffpp_frames(ffpp_clips: list[Path]) -> None:
    for path in ffpp_clips:
        result = faces_of(path)
        with_face = sum(bool(f.faces) for f in result.frames)
        assert len(result.frames) == FRAMES and with_face >= 0.95 * FRAMES, path.name
        main = result.main_track
        assert len(main.frame_indices) >= 0.9 * FRAMES, path.name  # the subject is one track, not fragments


def test_a_face_like_background_object_is_not_the_main_track(shared_data: Path) -> None:
    """004 shows a Chewbacca figure and a small blurred face late in the clip; the presenter stays main."""
    result = faces_of(shared_data / "videos" / "ffpp" / "004.mp4")
    main = result.main_track
    assert main.track_id == 0 and len(main.frame_indices) == FRAMES
    assert all(len(t.frame_indices) < FRAMES // 2 for t in result.tracks if not t.is_main)
    assert all(d.score >= SETTINGS.continue_score for f in result.frames for d in f.faces)
    assert all(max(d.score for d in t.detections) >= SETTINGS.min_score for t in result.tracks)  # started confident


def test_multi_person_clip_gives_several_tracks_and_a_frequent_main_track(shared_data: Path) -> None:
    """hamilton_clip: a performer on stage, then a cut to four people in the audience."""
    result = faces_of(shared_data / "videos" / "real" / "hamilton_clip.mp4")
    assert len(result.tracks) > 1 and result.shot_starts
    main = result.main_track
    assert len(main.frame_indices) == max(len(t.frame_indices) for t in result.tracks)
    assert len(main.frame_indices) >= 0.4 * sum(bool(f.faces) for f in result.frames)
    for start in result.shot_starts:  # no track runs across a cut
        assert all(t.frame_indices[0] >= start or t.frame_indices[-1] < start for t in result.tracks)


def test_the_main_faces_presence_accounts_for_every_sampled_frame(shared_data: Path) -> None:
    """hamilton_clip: the performer is the main face; after the cut the audience shows other faces, not his."""
    result = faces_of(shared_data / "videos" / "real" / "hamilton_clip.mp4")
    presence = result.presence
    assert presence.main.sampled == FRAMES
    assert presence.main.with_face == len(result.main_track.frame_indices) < FRAMES
    assert presence.main.with_face + sum(count for _, count in presence.missing) == FRAMES
    assert dict(presence.missing)[OTHERS_ONLY] >= 4 and result.shot_starts
    assert result.warnings[-1] == f"the main face was found in {presence.main.words()}; " + "; ".join(
        f"{count} {reason}" for reason, count in presence.missing)


def test_mouth_crops_of_a_ffpp_clip_are_framed_like_lipforensics(shared_data: Path) -> None:
    with av.open(str(shared_data / "mouths" / "real.avi")) as container:
        reference = np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])
    offset = (MOUTH_REGION - MOUTH_CROP) // 2
    reference_row = lip_row(reference[:, offset:-offset, offset:-offset].mean(axis=0))
    assert reference_row == 43  # what was measured when MOUTH_FACE_SIZE was checked

    result = faces_of(shared_data / "videos" / "ffpp" / "634.mp4")
    main = result.main_track
    crops = [crop for _, crop in result.track_crops(MOUTH, main.track_id)]
    assert len(crops) == FRAMES and crops[0].shape == (MOUTH_CROP, MOUTH_CROP)
    assert abs(lip_row(np.mean(crops, axis=0)) - reference_row) <= 3
    centre = (MOUTH_CROP - 1) / 2
    for detection in main.detections:
        matrix = mouth_matrix(detection)
        left, right = (matrix @ (x, y, 1.0) for x, y in detection.landmarks[3:])
        assert np.allclose((left + right) / 2, centre, atol=0.5)  # mouth at the centre of the crop
        assert 38 <= np.linalg.norm(right - left) <= 52  # mouth ~half the crop wide, as in real.avi
        assert abs(right[1] - left[1]) < 4  # level once the eyes are
