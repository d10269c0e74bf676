"""Evidence intake primitives: streaming SHA-256 and a PyAV probe that refuses what is not a video.

A file may hold several video streams; the one described and analysed is the one asked for, else the one the
container marks default, else the first (:func:`chosen_video_stream`), and :func:`video_streams` lists them all.
The probe reads a path, or an :class:`~dfdesk.core.evidence_file.OpenedEvidence` (the descriptor that was hashed).
"""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
from av.stream import Disposition

from dfdesk.core.types import VideoInfo, bit_depth

HASH_CHUNK = 1 << 20
MAX_PIXELS = 8192 * 8192  # larger declared frames are refused (decoder bombs)
VFR_PACKETS = 240  # packets inspected to tell constant from variable frame rate
REORDER_DEPTH = 16  # B-frame reordering: the last timestamps of the window may still be missing
IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "gif", "webp_pipe", "tiff_pipe", "image2pipe"}


class VideoError(Exception):
    """The file cannot be used as video evidence; the message says why in one line."""


def sha256_file(path: str | os.PathLike, progress: Callable[[int], None] | None = None) -> str:
    """Streaming SHA-256; ``progress`` receives the byte count of each block read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:  # read-only: evidence is never opened for writing
        while block := handle.read(HASH_CHUNK):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def check_readable_file(path: Path) -> int:
    """Size in bytes of a regular, readable, non-empty file; VideoError otherwise."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise VideoError(f"{path}: no such file") from None
    except OSError as exc:
        raise VideoError(f"{path}: cannot be read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise VideoError(f"{path}: is a directory, not a video file")
    if not stat.S_ISREG(info.st_mode):
        raise VideoError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: permission denied (the file is not readable)")
    if info.st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes)")
    return info.st_size


def probe_video(source, stream: int | None = None) -> VideoInfo:
    """Describe a video file (a path, or an opened evidence file) and its chosen video stream (``stream``: a
    container stream index; None: the default one), or raise VideoError with one clear line."""
    path, size = _path_and_size(source)
    try:
        with open_container(source) as container:
            if container.format.name in IMAGE_FORMATS:
                raise VideoError(f"{path}: this is a still image, not a video")
            chosen = chosen_video_stream(container, stream, path)
            return _describe(source, path, size, container, chosen.index)
    except VideoError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from None


def open_container(source):
    """A PyAV input container over a path, or over an opened evidence file's descriptor (a reader of its own)."""
    reader_file = getattr(source, "reader_file", None)
    return av.open(reader_file() if reader_file else str(source), "r")


def _path_and_size(source) -> tuple[Path, int]:
    if hasattr(source, "reader_file"):  # an OpenedEvidence: already known to be a regular file
        return Path(source.path), source.identity[2]
    path = Path(source)
    return path, check_readable_file(path)


def chosen_video_stream(container, requested: int | None, path: str | os.PathLike = ""):
    """The video stream ``requested`` (a container stream index), else the one marked default, else the first.

    VideoError when the container has no video stream or ``requested`` is not one of its video streams."""
    videos = list(container.streams.video)
    prefix = f"{path}: " if path else ""
    if not videos:
        _refuse_without_video(container, prefix)
    if requested is None:
        return next((s for s in videos if s.disposition & Disposition.default), videos[0])
    found = next((s for s in videos if s.index == requested), None)
    if found is None:
        listed = ", ".join(str(s.index) for s in videos)
        raise VideoError(f"{prefix}stream {requested} is not a video stream of this file (video streams: {listed})")
    return found


def video_streams(container) -> list[dict]:
    """Every video stream: container index, codec, size, frame count (the header's, else counted) and whether
    the container marks it default."""
    videos = list(container.streams.video)
    counts = {s.index: s.frames for s in videos}
    if len(videos) > 1 and not all(counts.values()):
        counts = _count_packets(container, videos)
    return [{"index": s.index, "codec": s.codec_context.name, "width": s.codec_context.width,
             "height": s.codec_context.height, "frames": counts[s.index],
             "default": bool(s.disposition & Disposition.default)} for s in videos]


def list_video_streams(source) -> list[dict]:
    """:func:`video_streams` of a path or an opened evidence file (VideoError when it cannot be read)."""
    path, _ = _path_and_size(source)
    try:
        with open_container(source) as container:
            return video_streams(container)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from None


def _count_packets(container, videos) -> dict[int, int]:
    """Packets per video stream, from one demux pass (containers such as Matroska declare no frame count)."""
    counts = dict.fromkeys((s.index for s in videos), 0)
    for packet in container.demux(*videos):
        if packet.size and not packet.is_discard:
            counts[packet.stream.index] += 1
    return counts


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split(":")[-1].strip() if ":" in text and len(text) > 80 else text


def _refuse_without_video(container, prefix: str) -> None:
    if container.streams.audio:
        raise VideoError(f"{prefix}contains no video stream (audio only)")
    raise VideoError(f"{prefix}not a video file")


def _describe(source, path: Path, size: int, container, index: int) -> VideoInfo:
    stream = container.streams[index]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise VideoError(f"{path}: the video stream declares no frame size")
    if width * height > MAX_PIXELS:
        raise VideoError(f"{path}: declared frame size {width}x{height} is too large to analyse")
    first = _first_frame(path, container, stream)
    rotation_cw = int(round(-(first.rotation or 0))) % 360
    if rotation_cw in (90, 270):
        width, height = height, width
    with open_container(source) as fresh:  # a new demuxer, never a seek to 0: in an MPEG program stream whose
        timing = _timing(fresh, fresh.streams[index])  # first packets share a timestamp it skips the first frame
    return VideoInfo(
        path=str(path), size_bytes=size, container=container.format.name, codec=stream.codec_context.name,
        width=width, height=height, rotation=rotation_cw, has_audio=bool(container.streams.audio),
        pixel_format=stream.codec_context.pix_fmt or "", bit_depth=bit_depth(stream.codec_context.pix_fmt), **timing,
    )


def _first_frame(path: Path, container, stream):
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: the video stream cannot be decoded ({_reason(exc)})") from None
    raise VideoError(f"{path}: the video stream holds no decodable frame")


def _timing(container, stream) -> dict:
    """fps, frame count, duration and whether the frame rate varies, from the packets of a freshly opened file."""
    time_base = stream.time_base or Fraction(1, 1000)
    pts, count, discarded = [], 0, 0
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if packet.is_discard:  # hidden by an edit list: no decoder outputs it
            discarded += 1
            continue
        count += 1
        if packet.pts is not None and len(pts) < VFR_PACKETS:
            pts.append(packet.pts)
    frame_count = count if discarded else (stream.frames or count)  # the container's count includes hidden ones
    duration = _duration_s(container, stream, time_base)
    fps = float(stream.average_rate or stream.guessed_rate or 0) or (frame_count / duration if duration else 0.0)
    return {"fps": round(fps, 6), "frame_count": frame_count, "duration_s": round(duration, 6),
            "is_vfr": _is_variable(sorted(pts), time_base)}


def _duration_s(container, stream, time_base) -> float:
    if stream.duration:
        return float(stream.duration * time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _is_variable(sorted_pts: list[int], time_base) -> bool:
    settled = sorted_pts[: max(len(sorted_pts) - REORDER_DEPTH, 0)] if len(sorted_pts) >= VFR_PACKETS else sorted_pts
    steps = [b - a for a, b in zip(settled, settled[1:]) if b > a]
    if len(steps) < 3:
        return False
    typical = sorted(steps)[len(steps) // 2]
    tolerance = max(1, typical * 0.1)
    return any(abs(s - typical) > tolerance for s in steps)
