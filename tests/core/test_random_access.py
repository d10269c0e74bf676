"""Random access is exact: any wanted frames, in any order, equal a plain sequential decode, pixel for pixel.

Each generated clip has several groups of pictures, so requests that begin far from the start decode from a seek.
The same property is checked on every clip of ../shared/data in tests/real/test_random_access_real.py.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from tests.fixtures import clips
from tests.fixtures.random_access import mismatches

N_FRAMES = 60

# name: (encoder, encoder options, pixel format, container)
GENERATED = {
    "h264_bframes_open_gop": ("libx264", {"g": "12", "bf": "3", "x264-params": "open-gop=1:scenecut=0"},
                              "yuv420p", "mp4"),
    "h264_444_bframes": ("libx264", {"g": "16", "bf": "2", "x264-params": "scenecut=0"}, "yuv444p", "mp4"),
    "h264_long_gop": ("libx264", {"g": "250", "bf": "3", "x264-params": "scenecut=0"}, "yuv420p", "mkv"),
    "hevc": ("libx265", {"x265-params": "keyint=15:bframes=3:scenecut=0:log-level=error"}, "yuv420p", "mp4"),
    "hevc_open_gop": ("libx265", {"x265-params": "keyint=15:open-gop=1:bframes=3:scenecut=0:log-level=error"},
                      "yuv420p", "mkv"),
    "vp9": ("libvpx-vp9", {"g": "15"}, "yuv420p", "webm"),
    "av1": ("libsvtav1", {"g": "15"}, "yuv420p", "mkv"),
    "mpeg4": ("mpeg4", {"g": "12", "bf": "2"}, "yuv420p", "avi"),
    "mjpeg": ("mjpeg", {}, "yuvj420p", "avi"),
}


def write_gop_clip(path: Path, encoder: str, options: dict[str, str], pix_fmt: str) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = 160, 120, pix_fmt
        for i in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(clips.face_frame(160, 120, i, N_FRAMES), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("name", list(GENERATED))
def test_random_access_equals_sequential_decode(name: str, tmp_path: Path) -> None:
    encoder, options, pix_fmt, extension = GENERATED[name]
    if encoder not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {encoder} encoder")
    path = write_gop_clip(tmp_path / f"{name}.{extension}", encoder, options, pix_fmt)
    assert mismatches(path, seed=len(name), draws=12) == []


def test_random_access_on_variable_frame_rate(tmp_path: Path) -> None:
    assert mismatches(clips.make_vfr_clip(tmp_path / "vfr.mp4", n_frames=40), seed=1, draws=10) == []


@pytest.mark.parametrize("rotation", [90, 270])
def test_random_access_on_rotated_clips(rotation: int, tmp_path: Path) -> None:
    path = clips.make_portrait_clip(tmp_path / f"rot{rotation}.mp4", rotation_cw=rotation, n_frames=30)
    assert mismatches(path, seed=rotation, draws=8) == []


def test_the_generated_clips_really_seek(tmp_path: Path) -> None:
    """The property only means something when decoding can start at a keyframe other than the first."""
    from dfdesk.core.probe import probe_video
    from dfdesk.core.video import VideoReader

    encoder, options, pix_fmt, extension = GENERATED["h264_bframes_open_gop"]
    path = write_gop_clip(tmp_path / f"gop.{extension}", encoder, options, pix_fmt)
    with VideoReader(path, probe_video(path)) as reader:
        assert len(reader.table.keyframe_pts) >= 4
        assert reader.table.keyframe_index_before(N_FRAMES - 1) > 0
        frame = next(reader.frames([N_FRAMES - 1]))
    assert frame.index == N_FRAMES - 1 and np.asarray(frame.image).shape == (120, 160, 3)
