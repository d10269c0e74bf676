"""Training cuts a video's face track into clips by the analysis's own rule (detectors.scoring.track_clips): a clip
model's clip over a few frames without the face takes the nearest face, as the analysis scores it (training used to
drop such clips), and a frame-level model only ever sees frames with the face.  Real clip, real MTCNN."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.faces import FaceSettings
from dfdesk.detectors.base import InputSpec
from tests.fixtures.clips import _background, face_frame, write_clip
from trainer.clips import video_clips
from trainer.datasets.records import VideoRecord

FRAMES, GAP = 24, range(9, 14)  # frames 9-13 show no face


@pytest.fixture(scope="module")
def gap_clip(tmp_path_factory) -> Path:
    frames = [_background(320, 240, i) if i in GAP else face_frame(320, 240, i, 1000) for i in range(FRAMES)]
    return write_clip(tmp_path_factory.mktemp("gap") / "gap.mp4", frames)


def clips_of(path: Path, spec: InputSpec, max_clips: int, frame_level: bool):
    record = VideoRecord(path, "real", "test")
    return video_clips(record, spec, max_clips=max_clips, settings=FaceSettings(device="cpu"), cache=None,
                       frame_level=frame_level)


def test_a_clip_model_trains_on_the_clips_the_analysis_scores(gap_clip: Path) -> None:
    clips = clips_of(gap_clip, InputSpec(size=64, frames_per_clip=8, sampling="uniform"), 2, frame_level=False)
    assert len(clips) == 2  # both clips cross the gap; under half of each is missing, so both are kept
    for clip in clips:
        assert len(clip.frame_indices) == 8 and clip.frames.shape[0] == 8
        assert not set(clip.frame_indices) & set(GAP)  # every position shows a face ...
        assert len(set(clip.frame_indices)) < 8  # ... a gap position through its nearest face frame


def test_a_frame_level_model_trains_on_face_frames_only(gap_clip: Path) -> None:
    clips = clips_of(gap_clip, InputSpec(size=64, frames_per_clip=4, sampling="uniform"), 4, frame_level=True)
    frames = [f for clip in clips for f in clip.frame_indices]
    assert clips and all(len(c.frame_indices) == 4 for c in clips)
    assert len(frames) == len(set(frames)) and not set(frames) & set(GAP)
