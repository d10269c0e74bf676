"""The player's frame source: frame-accurate access by index, and cheap steps back after a far seek."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dfdesk.core.probe import probe_video
from dfdesk.core.video import VideoReader, iter_frames
from dfdesk.gui.frames import KEEP_BEFORE, FrameSource
from tests.fixtures import clips


@pytest.fixture(scope="module")
def long_gop_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 frames, one keyframe, B-frames: every backward seek starts from frame 0."""
    path = tmp_path_factory.mktemp("player") / "long_gop.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"g": "100", "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(60):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(clips.face_frame(160, 120, i, 60), format="rgb24")))
        container.mux(stream.encode())
    return path


def test_frames_by_index_match_a_full_decode_in_any_order(long_gop_clip: Path) -> None:
    info = probe_video(long_gop_clip)
    everything = {f.index: f.image for f in iter_frames(long_gop_clip, info)}
    source = FrameSource(info)
    for index in (40, 41, 12, 59, 0, 58, 30):
        frame = source.frame(index)
        assert frame.index == index and np.array_equal(frame.image, everything[index])
    source.close()


def test_stepping_back_after_a_far_seek_needs_no_new_decode(long_gop_clip: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seeks = []
    original = VideoReader.frames

    def counting(self, indices=None):
        seeks.append(indices[0] if indices is not None else 0)
        return original(self, indices)

    monkeypatch.setattr(VideoReader, "frames", counting)
    source = FrameSource(probe_video(long_gop_clip))
    source.frame(50)
    assert seeks == [50 - KEEP_BEFORE]
    for index in range(49, 50 - KEEP_BEFORE - 1, -1):  # frame by frame backwards
        assert source.frame(index).index == index
    assert len(seeks) == 1
    source.frame(50 - KEEP_BEFORE - 1)  # one further back: a new seek
    assert len(seeks) == 2
    source.close()
