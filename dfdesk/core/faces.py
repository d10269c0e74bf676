"""Batched MTCNN face detection (facenet-pytorch) on downscaled copies of full-resolution frames.

Frames are shrunk so their longest side is ``detect_longest_side`` (never enlarged), contrast-normalised when
dark or flat (detection_copy.py: the copy only, never the frame), detected in batches of equal-sized images, and
the boxes and 5 landmarks are mapped back to the full-resolution, upright frame.  One MTCNN instance is loaded per
detector and reused.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import torch

from dfdesk.core.detection_copy import detection_copy
from dfdesk.core.types import FaceDetection, Frame, FrameFaces

PNET_CELL = 12  # MTCNN's smallest detectable face, in pixels of the image it is given


@dataclass(frozen=True)
class FaceSettings:
    detect_longest_side: int = 640
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)
    min_face_px: int = 40  # smallest face kept, in full-resolution pixels (box's shorter side)
    # ... and at least this share of the frame's shorter side: a face under 1/18 of a 1080p frame (60 px)
    # carries too little detail for detectors that look at 224-299 px crops, and skipping the finest
    # MTCNN scales makes 1080p detection about 3.5x faster (bench/faces.py).
    min_face_fraction: float = 1 / 18
    batch_size: int = 16
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    keep_all: bool = True  # False keeps only the most confident face of each frame
    # Two thresholds, as ByteTrack does (Zhang et al., ECCV 2022; tracking.py): a face track starts only on a
    # detection scoring at least min_score, and continues through detections scoring at least continue_score that
    # overlap its predicted box; a detection under min_score that continues no track is never a face.  On real
    # clips the 0.7-0.9 band holds blurry background faces, hands and face-like objects, and also true faces in bad
    # light (0.79-0.96 on a dark 1080p clip).  MTCNN's O-net drops everything under thresholds[2] before either.
    min_score: float = 0.9
    continue_score: float = 0.7
    normalise_dark: bool = True  # CLAHE on the detection copy of dark or low-contrast frames (detection_copy.py)
    top_up: bool = True  # detect near sampled frames that lack the main face and use those instead (pipeline.py)

    def to_dict(self) -> dict:
        return asdict(self)

    def min_face_for(self, width: int, height: int) -> float:
        """Smallest face kept in a frame of this size, in full-resolution pixels."""
        return max(self.min_face_px, self.min_face_fraction * min(width, height))


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def detection_scale(width: int, height: int, longest_side: int) -> float:
    """Factor from full resolution to the detection copy (at most 1: never enlarged)."""
    return min(1.0, longest_side / max(width, height))


class FaceDetector:
    """Finds faces with MTCNN; ``detect`` takes any mix of frame sizes."""

    def __init__(self, settings: FaceSettings = FaceSettings()):
        from facenet_pytorch import MTCNN  # heavy import, paid once per detector

        self.settings = settings
        self.device = resolve_device(settings.device)
        self._mtcnn = MTCNN(keep_all=True, thresholds=list(settings.thresholds), device=self.device).eval()
        # MTCNN receives NHWC images permuted to NCHW, i.e. channels-last memory; weights in the same layout
        # make CPU detection about 25 % faster (bench/faces.py); boxes move by less than 1e-3 px.
        self._mtcnn.to(memory_format=torch.channels_last)
        self._lock = threading.Lock()  # min_face_size is set per batch on the shared MTCNN

    def detect(self, frames: Sequence[Frame], min_score: float | None = None) -> list[FrameFaces]:
        """Faces of every frame, in the order given, scoring at least ``min_score`` (default: settings.min_score).

        The face pipeline asks for ``settings.continue_score``: tracking then decides which of the lower-scoring
        faces continue a track.
        """
        floor = self.settings.min_score if min_score is None else min_score
        results: dict[int, FrameFaces] = {}
        for shape, positions in _group_by_shape(frames).items():
            for start in range(0, len(positions), self.settings.batch_size):
                chunk = positions[start : start + self.settings.batch_size]
                for position, faces in zip(chunk, self._detect_same_size([frames[p] for p in chunk], shape, floor)):
                    results[position] = faces
        return [results[p] for p in range(len(frames))]

    def _detect_same_size(self, frames: list[Frame], shape: tuple[int, int], floor: float) -> list[FrameFaces]:
        height, width = shape
        scale = detection_scale(width, height, self.settings.detect_longest_side)
        copies = [detection_copy(f.image, scale, self.settings.normalise_dark) for f in frames]
        batch = torch.from_numpy(np.stack(copies)).to(self.device)
        min_face = self.settings.min_face_for(width, height)
        detect_min = max(PNET_CELL, min_face * scale)
        if not frame_can_hold_a_face(copies[0].shape[:2], detect_min):
            return [FrameFaces(f.index, f.time_s, ()) for f in frames]
        with self._lock:
            self._mtcnn.min_face_size = detect_min
            boxes, scores, points = self._mtcnn.detect(batch, landmarks=True)
        return [FrameFaces(f.index, f.time_s, self._faces(b, s, p, scale, min_face, floor))
                for f, b, s, p in zip(frames, boxes, scores, points)]

    def _faces(self, boxes, scores, points, scale: float, min_face: float, floor: float
               ) -> tuple[FaceDetection, ...]:
        if boxes is None:
            return ()
        faces = [FaceDetection(tuple(float(v) / scale for v in box),
                               float(score), tuple((float(x) / scale, float(y) / scale) for x, y in landmarks))
                 for box, score, landmarks in zip(boxes, scores, points)]
        faces = [f for f in faces if f.score >= floor and min(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= min_face]
        faces.sort(key=lambda f: f.score, reverse=True)
        return tuple(faces if self.settings.keep_all else faces[:1])


def frame_can_hold_a_face(shape: tuple[int, int], min_face_px: float) -> bool:
    """False when an image of ``shape`` (height, width) is smaller than the smallest face searched for: MTCNN's
    image pyramid is then empty and it fails inside PyTorch (1x1, 2x2, 8x8 videos), while the answer is simply
    that no face can be there."""
    return min(shape) >= min_face_px


def too_small_for_faces(width: int, height: int, settings: FaceSettings) -> str | None:
    """The reason no face can be found in frames of this size (smaller than the smallest face searched for), or
    None: said with the analysis's ``no_face`` outcome instead of a silent empty result."""
    smallest = max(PNET_CELL, settings.min_face_for(width, height))
    if frame_can_hold_a_face((height, width), smallest):
        return None
    return (f"the frames are {width}x{height} pixels, smaller than the smallest face the detector looks for "
            f"({smallest:.0f} pixels): no face can be found in them")


@lru_cache(maxsize=4)
def shared_detector(settings: FaceSettings = FaceSettings()) -> FaceDetector:
    """One detector per settings for the whole process (loading MTCNN is expensive)."""
    return FaceDetector(settings)


def _group_by_shape(frames: Sequence[Frame]) -> dict[tuple[int, int], list[int]]:
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for position, frame in enumerate(frames):
        groups[frame.image.shape[:2]].append(position)
    return groups
