"""Files with several video streams: the default one is described and decoded unless another is asked for, and
every video stream is listed (issue 21, point 3).  Real Matroska files written and decoded by PyAV."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.probe import VideoError, list_video_streams, probe_video
from dfdesk.core.video import VideoReader
from tests.fixtures import clips
from tests.fixtures.streams import FRAMES, HEIGHT, WIDTH, two_video_streams


def looks_like_the_face_clip(image: np.ndarray, index: int) -> bool:
    """Close to the face clip's frame ``index`` (H.264 is lossy), far from the faceless stream."""
    expected = clips.face_frame(WIDTH, HEIGHT, index, FRAMES).astype(np.int16)
    return float(np.abs(image.astype(np.int16) - expected).mean()) < 6.0


def test_every_video_stream_is_listed_with_the_one_marked_default(tmp_path: Path) -> None:
    path = two_video_streams(tmp_path / "two.mkv", default=1, audio=True)
    assert list_video_streams(path) == [
        {"index": 0, "codec": "h264", "width": WIDTH, "height": HEIGHT, "frames": FRAMES, "default": False},
        {"index": 1, "codec": "h264", "width": WIDTH, "height": HEIGHT, "frames": FRAMES, "default": True}]


@pytest.mark.parametrize("default", [1, 0])
def test_the_reader_decodes_the_default_stream_unless_another_is_asked_for(tmp_path: Path, default: int) -> None:
    path = two_video_streams(tmp_path / "two.mkv", default=default, face_on=1)
    info = probe_video(path)
    with VideoReader(path, info) as reader:
        chosen = list(reader.frames([3, 12]))
        assert reader.stream_index == default
    with VideoReader(path, probe_video(path, stream=1 - default), stream=1 - default) as reader:
        other = list(reader.frames([3, 12]))
    face, faceless = (chosen, other) if default == 1 else (other, chosen)
    assert all(looks_like_the_face_clip(f.image, f.index) for f in face)
    assert not any(looks_like_the_face_clip(f.image, f.index) for f in faceless)


def test_without_a_default_mark_the_first_video_stream_is_used(tmp_path: Path) -> None:
    path = two_video_streams(tmp_path / "none.mkv", default=None, face_on=0)
    with VideoReader(path, probe_video(path)) as reader:
        assert reader.stream_index == 0
        assert all(looks_like_the_face_clip(f.image, f.index) for f in reader.frames([0, 19]))


@pytest.mark.parametrize("stream", [2, 7])
def test_a_stream_that_is_not_a_video_stream_is_refused_in_one_line(tmp_path: Path, stream: int) -> None:
    path = two_video_streams(tmp_path / "two.mkv", audio=True)  # stream 2 is audio, 7 does not exist
    with pytest.raises(VideoError, match=f"stream {stream} is not a video stream of this file \\(video streams: "
                                         "0, 1\\)") as refused:
        probe_video(path, stream=stream)
    assert "\n" not in str(refused.value)
