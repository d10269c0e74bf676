"""Decoding: frame counts, real timestamps, rotation, sparse seeking, damaged files."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from dfdesk.core.probe import VideoError, probe_video
from dfdesk.core.video import SKIPS_PER_PACKET, VideoReader, iter_frames
from tests.fixtures import clips


def stream_pts_seconds(path: Path) -> list[float]:
    """Presentation times of every packet, read straight from the container."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = sorted(p.pts for p in container.demux(stream) if p.size and p.pts is not None)
        return [float((p - pts[0]) * stream.time_base) for p in pts]


def test_all_frames_of_the_face_clip_in_order(clip_dir: Path) -> None:
    info = probe_video(clip_dir / "face.mp4")
    frames = list(iter_frames(clip_dir / "face.mp4", info))
    assert [f.index for f in frames] == list(range(info.frame_count))
    assert frames[0].image.shape == (info.height, info.width, 3) and frames[0].image.dtype == np.uint8
    assert frames[5].time_s == pytest.approx(5 / 25)


def test_vfr_clip_keeps_its_real_timestamps(clip_dir: Path) -> None:
    path = clip_dir / "vfr.mp4"
    info = probe_video(path)
    frames = list(iter_frames(path, info))
    expected = stream_pts_seconds(path)
    assert len(frames) == len(expected) == 20
    assert [f.time_s for f in frames] == pytest.approx(expected, abs=1e-6)
    steps = np.diff([f.time_s for f in frames])
    assert steps.min() == pytest.approx(0.02, abs=1e-3) and steps.max() == pytest.approx(0.06, abs=1e-3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_portrait_clip_comes_out_upright(tmp_path: Path, rotation: int) -> None:
    path = clips.make_portrait_clip(tmp_path / f"portrait{rotation}.mp4", rotation_cw=rotation, n_frames=4)
    info = probe_video(path)
    frames = list(iter_frames(path, info))
    upright = clips.portrait_upright_frames(4)
    for frame, truth in zip(frames, upright):
        assert frame.image.shape == truth.shape == (320, 240, 3)
        error = np.abs(frame.image.astype(int) - truth).mean()
        turned = np.abs(np.rot90(frame.image, 2).astype(int) - truth).mean()
        assert error < 4 and turned > 4 * error


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 frames with a keyframe every 10: room for seeking."""
    path = tmp_path_factory.mktemp("gop") / "gop.mp4"
    frames = [clips.face_frame(160, 120, i, 60) for i in range(60)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"g": "10", "keyint_min": "10", "bf": "2"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def test_sparse_decode_returns_exactly_the_wanted_frames(gop_clip: Path) -> None:
    info = probe_video(gop_clip)
    everything = {f.index: f.image for f in iter_frames(gop_clip, info)}
    wanted = [57, 3, 31, 32, 44, 3]
    sparse = list(iter_frames(gop_clip, info, wanted))
    assert [f.index for f in sparse] == sorted(set(wanted))
    for frame in sparse:
        assert np.array_equal(frame.image, everything[frame.index])


def frames_out_of_the_decoder(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that fills with the index of every frame the decoder hands to VideoReader."""
    decoded: list[int] = []
    original = VideoReader._decoded_from

    def counting(self, target, *rest):
        for pair in original(self, target, *rest):
            decoded.append(pair[0])
            yield pair

    monkeypatch.setattr(VideoReader, "_decoded_from", counting)
    return decoded


def test_sparse_decode_seeks_past_unneeded_groups(gop_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded = frames_out_of_the_decoder(monkeypatch)
    with VideoReader(gop_clip, probe_video(gop_clip)) as reader:
        assert [f.index for f in reader.frames([5, 55])] == [5, 55]
    assert len(decoded) < 20  # two groups of pictures at most, not the 56 frames up to 55


def test_indices_past_the_end_are_reported(clip_dir: Path) -> None:
    info = probe_video(clip_dir / "face.mp4")
    with VideoReader(clip_dir / "face.mp4", info) as reader:
        assert [f.index for f in reader.frames([1, 500])] == [1]
        assert "past the last frame" in reader.warnings[0]
    with pytest.raises(VideoError, match="past the last frame"):
        list(iter_frames(clip_dir / "face.mp4", info, [500]))


def test_truncated_stream_ends_with_a_warning(tmp_path: Path) -> None:
    path = clips.write_clip(tmp_path / "whole.ts", (clips.face_frame(160, 120, i, 40) for i in range(40)))
    data = path.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) // 2])
    info = probe_video(path)  # the header of the whole file: 40 frames promised
    with VideoReader(cut, info) as reader:
        frames = list(reader.frames(range(40)))
        assert 0 < len(frames) < 40
        assert any("past the last frame" in w or "stopped" in w for w in reader.warnings)


def test_corrupt_bytes_mid_stream_do_not_crash(tmp_path: Path) -> None:
    path = clips.write_clip(tmp_path / "whole.ts", (clips.face_frame(160, 120, i, 30) for i in range(30)))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    broken = tmp_path / "broken.ts"
    broken.write_bytes(bytes(data))
    with VideoReader(broken, probe_video(broken)) as reader:
        frames = list(reader.frames())
    assert frames and all(f.image.shape == (120, 160, 3) for f in frames)
    assert len(frames) == 30 or any("missing" in w or "stopped" in w for w in reader.warnings)


def test_unreadable_file_is_one_clear_error(tmp_path: Path, clip_dir: Path) -> None:
    info = probe_video(clip_dir / "face.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(VideoError, match="junk.mp4"):
        VideoReader(junk, info)


def test_a_timestamp_gap_elsewhere_does_not_fail_frames_before_it(tmp_path: Path) -> None:
    times = [i * 0.04 for i in range(10)] + [2.0 + i * 0.04 for i in range(5)]  # a 1.6 s hole after frame 9
    path = clips.write_clip(tmp_path / "gap.mp4", (clips.face_frame(160, 120, i, 15) for i in range(15)), times=times)
    info = probe_video(path)
    with VideoReader(path, info) as reader:
        assert any("timestamps jump" in w for w in reader.warnings)
    assert [f.index for f in iter_frames(path, info, [0, 3, 6])] == [0, 3, 6]


def test_decoding_resumes_after_a_damaged_group_of_pictures(gop_clip: Path, tmp_path: Path) -> None:
    from tests.fixtures.hostile import corrupted_mid_stream

    damaged = corrupted_mid_stream(tmp_path, gop_clip)
    info = probe_video(damaged)
    with VideoReader(damaged, info) as reader:
        delivered = [f.index for f in reader.frames()]
        warnings = list(reader.warnings)
    assert any("damaged data" in w or "could not be decoded" in w for w in warnings), warnings
    assert delivered and max(delivered) >= 50, "frames after the damage are still decoded"
    assert len(delivered) < 60


def write_long_gop_clip(path: Path, codec: str, options: dict[str, str], n_frames: int = 48) -> Path:
    """``n_frames`` in one group of pictures (B-frames where the codec has them)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25, options=options)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(clips.face_frame(160, 120, i, n_frames), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


# encoder, its options, container; the decoders of the first four drop unwanted non-reference frames
LONG_GOP_CODECS = {
    "h264": ("libx264", {"g": "100", "bf": "3", "x264-params": "b-adapt=0:scenecut=0"}, "mp4"),
    "hevc": ("libx265", {"x265-params": "keyint=100:bframes=3:b-adapt=0:scenecut=0:log-level=error"}, "mp4"),
    "mpeg4": ("mpeg4", {"g": "100", "bf": "2"}, "avi"),
    "mpeg2video": ("mpeg2video", {"g": "100", "bf": "2"}, "mpg"),
    "vp9": ("libvpx-vp9", {"g": "100"}, "webm"),
    "av1": ("libsvtav1", {"g": "100"}, "mkv"),  # decoded by libdav1d, which buffers packets: never skips
}


@pytest.mark.parametrize("codec", list(LONG_GOP_CODECS))
def test_sparse_decode_gives_the_wanted_pixels_and_drops_what_nothing_refers_to(
        codec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, options, extension = LONG_GOP_CODECS[codec]
    if encoder not in av.codecs_available:
        pytest.skip(f"this FFmpeg build has no {encoder} encoder")
    path = write_long_gop_clip(tmp_path / f"long_gop.{extension}", encoder, options)
    info = probe_video(path)
    everything = {f.index: f.image for f in iter_frames(path, info)}
    decoded = frames_out_of_the_decoder(monkeypatch)
    wanted = list(range(3, 48, 7))
    with VideoReader(path, info) as reader:
        sparse = list(reader.frames(wanted))
        skips = reader._stream.codec_context.name in SKIPS_PER_PACKET
    assert [f.index for f in sparse] == wanted
    assert all(np.array_equal(f.image, everything[f.index]) for f in sparse)
    if codec in ("h264", "hevc", "mpeg4", "mpeg2video"):
        # one group of pictures: without dropping, every frame up to the last wanted one leaves the decoder
        assert skips and len(decoded) < 0.8 * (wanted[-1] + 1), decoded
