"""Evidence intake primitives: streaming SHA-256 and a PyAV probe that refuses what is not a video."""
from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av

from dfdesk.core.types import VideoInfo

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


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file, or raise VideoError with one clear line."""
    path = Path(path)
    size = check_readable_file(path)
    try:
        with av.open(str(path), "r") as container:
            return _describe(path, size, container)
    except VideoError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise VideoError(f"{path}: not a readable video ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split(":")[-1].strip() if ":" in text and len(text) > 80 else text


def _describe(path: Path, size: int, container) -> VideoInfo:
    if container.format.name in IMAGE_FORMATS:
        raise VideoError(f"{path}: this is a still image, not a video")
    if not container.streams.video:
        if container.streams.audio:
            raise VideoError(f"{path}: contains no video stream (audio only)")
        raise VideoError(f"{path}: not a video file")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width <= 0 or height <= 0:
        raise VideoError(f"{path}: the video stream declares no frame size")
    if width * height > MAX_PIXELS:
        raise VideoError(f"{path}: declared frame size {width}x{height} is too large to analyse")
    first = _first_frame(path, container, stream)
    rotation_cw = int(round(-(first.rotation or 0))) % 360
    if rotation_cw in (90, 270):
        width, height = height, width
    with av.open(str(path), "r") as fresh:  # a new demuxer, never a seek to 0: in an MPEG program stream whose
        timing = _timing(fresh, fresh.streams.video[0])  # first packets share a timestamp it skips the first frame
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


def bit_depth(pix_fmt: str | None) -> int:
    if not pix_fmt:
        return 8
    for depth in (16, 12, 10):
        if f"p{depth}" in pix_fmt:
            return depth
    return 8
