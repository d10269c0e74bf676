"""Streams whose start is not where a seek to zero lands, or whose first packets are never shown.

Both kinds were met in the training footage (issue 16): the GRID corpus's MPEG-1 program streams, whose first two
packets carry the same decoding timestamp, and an MP4 whose edit list trims its first frames.  The reader gave no
frame at all for either ("decoding stopped early after frame -1") although a plain PyAV decode reads them.  The
real clips are checked in tests/real/test_video_train_clips_real.py.
"""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from dfdesk.core.probe import VideoError, probe_video
from dfdesk.core.video import VideoReader
from tests.fixtures import clips
from tests.fixtures.random_access import mismatches

N_FRAMES = 60
TRIMMED = 6  # frames the MP4's edit list hides
PES_CLOCK = Fraction(1, 90000)  # an MPEG program stream's timestamps
FRAME_TICKS = 3600  # one frame at 25 fps in that clock


def write_program_stream_with_a_repeated_start(path: Path) -> Path:
    """MPEG-1 video in an MPEG program stream with GRID's timestamps.

    Frame i is shown at i and decoded at i - 1 frames, except the first, whose decoding time is clamped to 0, the
    second's.  320x240 makes the first keyframe span several packs, so the second frame starts a packet with its
    own timestamps: FFmpeg's demuxer then indexes time 0 at the second frame.
    """
    with av.open(str(path), "w", format="mpeg", options={"preload": "0"}) as container:
        stream = container.add_stream("mpeg1video", rate=25, options={"g": "12", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        written = 0

        def mux(packets: list[av.Packet]) -> None:
            nonlocal written
            for packet in packets:
                packet.time_base = PES_CLOCK
                packet.pts, packet.dts = written * FRAME_TICKS, max(0, written - 1) * FRAME_TICKS
                container.mux(packet)
                written += 1

        for i in range(N_FRAMES):
            mux(stream.encode(av.VideoFrame.from_ndarray(clips.face_frame(320, 240, i, N_FRAMES), format="rgb24")))
        mux(stream.encode())
    return path


def write_mp4_with_a_trimmed_start(path: Path) -> Path:
    """H.264 with B-frames whose first ``TRIMMED`` frames lie before time 0.

    The MP4 muxer writes an edit list that starts at time 0; the demuxer marks the earlier packets discard.
    """
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"g": "10", "bf": "2", "x264-params": "scenecut=0"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"

        def mux(packets: list[av.Packet]) -> None:
            for packet in packets:
                shift = int(TRIMMED / Fraction(25) / packet.time_base)
                packet.pts, packet.dts = packet.pts - shift, packet.dts - shift
                container.mux(packet)

        for i in range(N_FRAMES):
            frame = av.VideoFrame.from_ndarray(clips.face_frame(160, 120, i, N_FRAMES), format="rgb24")
            frame.pts = i
            mux(stream.encode(frame))
        mux(stream.encode())
    return path


WRITERS = {"program_stream.mpg": write_program_stream_with_a_repeated_start,
           "trimmed_start.mp4": write_mp4_with_a_trimmed_start}


@pytest.fixture(scope="module", params=list(WRITERS))
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return WRITERS[request.param](tmp_path_factory.mktemp("starts") / request.param)


def plain_decode(path: Path) -> list[np.ndarray]:
    """Every frame a plain PyAV decode shows, as RGB."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_the_program_stream_misleads_a_seek_to_zero(tmp_path: Path) -> None:
    """The material means something: after ``seek(0)`` the demuxer skips the first keyframe."""
    path = write_program_stream_with_a_repeated_start(tmp_path / "ps.mpg")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = next(packet for packet in container.demux(stream) if packet.size)
        container.seek(0)
        after_seek = next(packet for packet in container.demux(stream) if packet.size)
    assert (first.pts, first.dts, first.is_keyframe) == (0, 0, True)
    assert after_seek.pts > 0 and not after_seek.is_keyframe


def test_the_trimmed_mp4_hides_its_first_packets(tmp_path: Path) -> None:
    path = write_mp4_with_a_trimmed_start(tmp_path / "trimmed.mp4")
    with av.open(str(path)) as container:
        discarded = sum(packet.is_discard for packet in container.demux(video=0) if packet.size)
    assert discarded == TRIMMED
    assert len(plain_decode(path)) == N_FRAMES - TRIMMED


def test_every_frame_equals_a_plain_decode(clip: Path) -> None:
    expected = plain_decode(clip)
    with VideoReader(clip, probe_video(clip)) as reader:
        frames = list(reader.frames())
        warnings = list(reader.warnings)
    assert [frame.index for frame in frames] == list(range(len(expected)))
    assert all(np.array_equal(frame.image, image) for frame, image in zip(frames, expected))
    assert frames[0].time_s == 0.0
    assert warnings == []  # the hidden packets are not taken for lost frames


def test_a_frame_at_the_start_asked_after_a_far_one(clip: Path) -> None:
    """The far frame is reached by a seek; frame 1 then needs a rewind to the very start."""
    expected = plain_decode(clip)
    with VideoReader(clip, probe_video(clip)) as reader:
        far = list(reader.frames([len(expected) - 2]))
        near = list(reader.frames([1]))
    assert [frame.index for frame in far + near] == [len(expected) - 2, 1]
    assert np.array_equal(far[0].image, expected[-2]) and np.array_equal(near[0].image, expected[1])


def test_random_access_equals_sequential_decode(clip: Path) -> None:
    assert mismatches(clip, seed=len(clip.name), draws=12) == []


@pytest.mark.parametrize("change", ["replaced", "removed"])
def test_a_rewind_reads_the_file_first_opened_whatever_the_path_names_now(change: str, tmp_path: Path) -> None:
    """Opening afresh goes through the descriptor, not the path: another file renamed over it (or none left at the
    path) changes nothing that is decoded."""
    path = write_program_stream_with_a_repeated_start(tmp_path / "ps.mpg")
    expected = plain_decode(path)
    with VideoReader(path, probe_video(path)) as reader:
        assert [frame.index for frame in reader.frames([N_FRAMES - 1])] == [N_FRAMES - 1]
        if change == "replaced":
            os.replace(write_mp4_with_a_trimmed_start(tmp_path / "other.mpg"), path)
        else:
            path.unlink()
        first = list(reader.frames([0]))
    assert [frame.index for frame in first] == [0] and np.array_equal(first[0].image, expected[0])


def test_a_rewind_refuses_a_file_written_to_while_it_was_read(tmp_path: Path) -> None:
    path = write_program_stream_with_a_repeated_start(tmp_path / "ps.mpg")
    with VideoReader(path, probe_video(path)) as reader:
        assert [frame.index for frame in reader.frames([N_FRAMES - 1])] == [N_FRAMES - 1]
        with path.open("r+b") as handle:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\0" * 188)
        with pytest.raises(VideoError, match="written to while it was being read"):
            list(reader.frames([0]))


def test_the_probe_counts_only_the_frames_a_decode_gives(clip: Path) -> None:
    """An edit list's hidden packets are not frames: plans must never ask for frames past the last."""
    from dfdesk.core.probe import probe_video

    assert probe_video(clip).frame_count == len(plain_decode(clip))
