"""Frame-accurate random access for the player, on top of dfdesk.core.video (no Qt here).

Playing forward keeps one decoding stream open and only advances it; a jump farther than
``FORWARD_LIMIT`` frames (or backwards) re-seeks to the keyframe before the target, and decodes
the ``KEEP_BEFORE`` frames before the target too, so that stepping back from it is instant.

A frame on screen can be exported as a lossless PNG of its decoded pixels, its frame index, pts, time and the
evidence SHA-256 in the PNG's text chunks (``save_frame_png``).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from dfdesk import __version__
from dfdesk.core.probe import VideoError
from dfdesk.core.types import Frame, VideoInfo
from dfdesk.core.video import VideoReader
from dfdesk.services.key_frames import KeyFrameMismatch, ScoredCrops, Wanted, decode_key_frames

FORWARD_LIMIT = 48
CACHE_FRAMES = 24
KEEP_BEFORE = 8  # frames before a seek target kept for stepping back (at most CACHE_FRAMES)


class FrameSource:
    """Decodes frames of one evidence file by index.  Raises VideoError when it cannot."""

    def __init__(self, info: VideoInfo, stream: int | None = None):
        self.info = info
        self._reader = VideoReader(info.path, info, threads=1, stream=stream)  # the stream the analysis read
        self._stream: Iterator[Frame] | None = None
        self._position = -1
        self._cache: OrderedDict[int, Frame] = OrderedDict()

    @property
    def frame_count(self) -> int:
        return self._reader.frame_count

    @property
    def time_base(self) -> str:
        """The stream's time base, in which frame ``pts`` count (e.g. "1/12800")."""
        return str(self._reader.table.time_base)

    def time_of(self, index: int) -> float:
        table = self._reader.table
        return table.time_s(table.pts[max(0, min(index, self.frame_count - 1))])

    def frame(self, index: int) -> Frame:
        index = max(0, min(index, self.frame_count - 1))
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        if self._stream is None or not (self._position < index <= self._position + FORWARD_LIMIT):
            self._stream = self._reader.frames(range(max(0, index - KEEP_BEFORE), self.frame_count))
        for frame in self._stream:
            self._position = frame.index
            self._remember(frame)
            if frame.index >= index:
                return frame
        self._stream = None
        raise VideoError(f"frame {index} could not be decoded")

    def _remember(self, frame: Frame) -> None:
        self._cache[frame.index] = frame
        while len(self._cache) > CACHE_FRAMES:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self._stream = None
        self._reader.close()


def frame_png_text(frame: Frame, time_base: str, evidence_sha256: str, evidence_file: str) -> dict[str, str]:
    """What an exported still says about its pixels: which frame of which evidence file, and when."""
    return {"frame_index": str(frame.index), "pts": "" if frame.pts is None else str(frame.pts),
            "time_base": time_base, "time_s": f"{frame.time_s:.6f}", "evidence_sha256": evidence_sha256,
            "evidence_file": evidence_file, "Software": f"dfdesk {__version__}"}


def save_frame_png(frame: Frame, path: Path, text: dict[str, str]) -> None:
    """Write the decoded pixels of ``frame`` exactly (lossless PNG, no overlay) with ``text`` as PNG text chunks
    (iTXt, so any file name is kept)."""
    info = PngInfo()
    for key, value in text.items():
        info.add_itxt(key, value)
    Image.fromarray(np.ascontiguousarray(frame.image), "RGB").save(path, format="PNG", pnginfo=info)


def crop_box(image: np.ndarray, box, margin: float = 0.15) -> np.ndarray:
    """The face box with a margin, clipped to the image; the whole image when there is no box."""
    if box is None:
        return image
    height, width = image.shape[:2]
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(width, int(x2 + dx)), min(height, int(y2 + dy))
    if right <= left or bottom <= top:
        return image
    return np.ascontiguousarray(image[top:bottom, left:right])


@dataclass(frozen=True)
class FaceCrop:
    """A face crop decoded for the gallery, yielded by :func:`face_crops`, with where its pixels came from."""

    track_index: int
    frame_index: int
    image: np.ndarray | None  # None when the decoded pixels differ from what the analysis scored
    pts: int | None = None
    check: str = ""  # how the pixels were checked against the analysis, or why they are not shown


def face_crops(info: VideoInfo, wanted: Sequence[tuple[int, int, tuple | None, str]], scored: ScoredCrops | None,
               is_cancelled) -> Iterator[FaceCrop]:
    """Decode (track, frame, box, detector) crops in one sparse pass, checked against the crops the analysis scored
    (the crop cache; no sequential fallback, which could take minutes); meant to run in a worker."""
    targets = [Wanted(frame, box, detector) for _, frame, box, detector in wanted if box is not None]
    try:
        sources = decode_key_frames(info, targets, scored, sequential_limit=0)
    except KeyFrameMismatch as exc:
        yield from (FaceCrop(track, frame, None, None, str(exc)) for track, frame, _, _ in wanted)
        return
    for track, frame, box, _ in wanted:
        if is_cancelled():
            return
        if frame in sources:
            source = sources[frame]
            yield FaceCrop(track, frame, crop_box(source.frame.image, box), source.frame.pts, source.check)
