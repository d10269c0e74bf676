"""The eleven training clips the reader could not decode (issue 16) give every frame a plain PyAV decode gives.

The ten GRID clips are MPEG-1 in an MPEG program stream whose first two packets carry the same decoding timestamp, so
a seek to time 0 lands after the first keyframe; astorfi's lip-reading sample is an MP4 whose edit list hides 57
packets at its start and 2 at its end.  Before the fix the reader gave none of their frames.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dfdesk.core.probe import probe_video
from dfdesk.core.video import VideoReader
from tests.fixtures.random_access import mismatches

pytestmark = pytest.mark.real

GRID = ("bbaf2n", "brbk7n", "lbax4n", "lbbc2a", "lrwp9a", "lwbsza", "pwij3p", "sbia1a", "sbwe5n", "swiz3n")
# clip (under train/real/clips) -> frames of a plain PyAV decode, counted once with PyAV 18.1 (FFmpeg 8)
CLIPS = {**{f"rizkiarm_LipNet__evaluation_samples_GRID_{name}.mpg": 75 for name in GRID},
         "astorfi_lip-reading-deeplearning__data_sample_video.mp4": 209}


def plain_decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


@pytest.fixture
def train_clip(request: pytest.FixtureRequest, shared_data: Path) -> Path:
    path = shared_data / "train/real/clips" / request.param
    if not path.is_file():
        pytest.skip(f"{path} is absent from this copy of ../shared/data")
    return path


@pytest.mark.parametrize(("train_clip", "frames"), list(CLIPS.items()), indirect=["train_clip"], ids=list(CLIPS))
def test_every_frame_equals_a_plain_decode(train_clip: Path, frames: int) -> None:
    expected = plain_decode(train_clip)
    with VideoReader(train_clip, probe_video(train_clip)) as reader:
        decoded = list(reader.frames())
        warnings = list(reader.warnings)
    assert len(expected) == frames
    assert [frame.index for frame in decoded] == list(range(frames)), warnings
    assert all(np.array_equal(frame.image, image) for frame, image in zip(decoded, expected))
    assert warnings == []


@pytest.mark.parametrize("train_clip", list(CLIPS), indirect=True, ids=list(CLIPS))
def test_random_access_equals_sequential_decode(train_clip: Path) -> None:
    assert mismatches(train_clip, seed=sum(map(ord, train_clip.name)), draws=6) == []
