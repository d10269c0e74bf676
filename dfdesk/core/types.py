"""Frozen value types passed between the layers (core, detectors, services, gui).

Everything here is plain data: no Qt, no database, no torch tensors.  Arrays are
numpy and treated as read-only by convention.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in full-resolution, upright pixels


def bit_depth(pix_fmt: str | None) -> int:
    """Bits per sample of an FFmpeg pixel format name (8 when unknown)."""
    if not pix_fmt:
        return 8
    for depth in (16, 12, 10):
        if f"p{depth}" in pix_fmt:
            return depth
    return 8


@dataclass(frozen=True)
class VideoInfo:
    """What a probe of an evidence file found.  Width/height are as displayed (rotation applied)."""

    path: str
    size_bytes: int
    container: str
    codec: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    rotation: int  # degrees clockwise needed to display upright: 0, 90, 180, 270
    has_audio: bool
    is_vfr: bool
    pixel_format: str = ""
    bit_depth: int = 8


@dataclass(frozen=True)
class Frame:
    """One decoded frame, upright, RGB uint8 (H, W, 3).

    ``pts`` is the presentation timestamp the decoder gave these pixels (in the stream's time base; None for a
    still from a frame folder): with ``index`` it records where printed evidence pixels came from.
    """

    index: int
    time_s: float
    image: np.ndarray = field(repr=False, compare=False)
    pts: int | None = None


@dataclass(frozen=True)
class FaceDetection:
    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...]  # 5 points: left eye, right eye, nose, mouth left, mouth right


@dataclass(frozen=True)
class FrameFaces:
    index: int
    time_s: float
    faces: tuple[FaceDetection, ...]


@dataclass(frozen=True)
class FaceTrack:
    track_id: int
    frame_indices: tuple[int, ...]
    detections: tuple[FaceDetection, ...]
    is_main: bool = False


@dataclass(frozen=True)
class Progress:
    """Yielded by long-running generators; ``total`` may be 0 when unknown."""

    stage: str
    done: int
    total: int
    message: str = ""


VerdictLabel = Literal["fake", "real", "inconclusive", "no_face"]
