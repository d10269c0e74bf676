"""A folder of still frames (one video already split into images, as DeepfakeBench and the seed lists keep
their data) read like a video: probed, hashed and decoded frame by frame, so the face pipeline takes either.

Frames are the folder's image files in natural order (``2.png`` before ``10.png``); their index is that
position and their time ``index / fps`` (a frame folder has no timestamps; 25 fps is assumed).  An image that
cannot be read is skipped with a warning, as a damaged part of a video is.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from dfdesk.core.probe import VideoError, probe_video, sha256_file
from dfdesk.core.types import Frame, VideoInfo
from dfdesk.core.video import VideoReader

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})
ASSUMED_FPS = 25.0


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The folder's image files (not recursive), in natural order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(f"{folder}: not a folder of frames")
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                   key=_natural_key)
    if not files:
        raise VideoError(f"{folder}: holds no image files")
    return files


def is_frame_folder(path: str | os.PathLike) -> bool:
    return Path(path).is_dir()


# --- a video file or a frame folder, whichever ``path`` is: the one place that tells them apart ---------------

def probe_source(path: str | os.PathLike) -> VideoInfo:
    return probe_frame_folder(path) if is_frame_folder(path) else probe_video(path)


def sha256_source(path: str | os.PathLike) -> str:
    return sha256_frame_folder(path) if is_frame_folder(path) else sha256_file(path)


def open_source(path: str | os.PathLike, info: VideoInfo, threads: int = 0) -> VideoReader | FrameFolderReader:
    """A video decoder, or a reader of still frames when ``path`` is a folder of them."""
    return FrameFolderReader(path, info) if is_frame_folder(path) else VideoReader(path, info, threads)


def probe_frame_folder(folder: str | os.PathLike, fps: float = ASSUMED_FPS) -> VideoInfo:
    """A VideoInfo for a frame folder: size of its first image, one frame per image."""
    files = frame_files(folder)
    try:
        with Image.open(files[0]) as first:
            width, height = ImageOps.exif_transpose(first).size
    except (OSError, UnidentifiedImageError) as exc:
        raise VideoError(f"{files[0]}: not a readable image ({exc})") from None
    return VideoInfo(path=str(folder), size_bytes=sum(f.stat().st_size for f in files), container="frame folder",
                     codec=files[0].suffix.lower().lstrip("."), width=width, height=height, fps=fps,
                     frame_count=len(files), duration_s=len(files) / fps, rotation=0, has_audio=False,
                     is_vfr=False)


def sha256_frame_folder(folder: str | os.PathLike) -> str:
    """SHA-256 over the frames' names and contents, in order: changes when any frame is renamed or altered."""
    digest = hashlib.sha256()
    for path in frame_files(folder):
        digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


class FrameFolderReader:
    """The frame-folder counterpart of :class:`dfdesk.core.video.VideoReader` (``frames``, ``warnings``)."""

    def __init__(self, folder: str | os.PathLike, info: VideoInfo):
        self.info, self.files = info, frame_files(folder)
        self.warnings: list[str] = []

    @property
    def frame_count(self) -> int:
        return len(self.files)

    def __enter__(self) -> FrameFolderReader:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def frames(self, indices: Sequence[int] | None = None) -> Iterator[Frame]:
        wanted = range(self.frame_count) if indices is None else sorted(set(indices))
        for index in wanted:
            if not 0 <= index < self.frame_count:
                self.warnings.append(f"frame {index} lies outside the folder's {self.frame_count} frames")
                continue
            try:
                with Image.open(self.files[index]) as image:
                    rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
            except (OSError, UnidentifiedImageError) as exc:
                self.warnings.append(f"frame {index} ({self.files[index].name}) could not be read: {exc}")
                continue
            yield Frame(index=index, time_s=index / self.info.fps, image=rgb)
