"""The frames a report prints are the frames the analysis scored, and say where they came from.

Key frames are decoded from the evidence (one sparse pass) and each is then checked, before anything is printed:

1. against the face crop the analysis scored, which the crop cache holds: the same crop is cut again from the frame
   just decoded and must equal the stored one pixel for pixel;
2. when the cache no longer holds it (pruned, another machine, an analysis older than the recorded crop specs):
   against the same frame from a sequential decode of the evidence from its first frame, which never seeks;
3. when even that would decode more than ``SEQUENTIAL_CHECK_LIMIT`` frames, the frame is printed with the plain
   remark that it was not checked.

A frame that fails a check raises :class:`KeyFrameMismatch`: wrong pixels are never printed as evidence.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings
from dfdesk.core.sampling import SamplingPlan, union_indices
from dfdesk.core.types import FaceDetection, Frame, VideoInfo
from dfdesk.core.video import VideoReader

SEQUENTIAL_CHECK_LIMIT = 20_000  # frames a check by sequential decode may read (13 min at 25 fps)
BOX_TOLERANCE_PX = 0.5  # a cached detection is the track's face when its box lies this close
CHECKED_BY_CROP = "pixels equal the face crop the analysis scored"
CHECKED_BY_SEQUENCE = "pixels equal a sequential decode of the evidence"


class KeyFrameMismatch(Exception):
    """A key frame decoded to other pixels than the analysis scored; nothing may be printed from it."""


@dataclass(frozen=True)
class KeyFrameSource:
    """A decoded key frame, where its pixels came from, and how they were checked."""

    frame: Frame
    check: str  # one of the CHECKED_* phrases, or why the frame was not checked


@dataclass(frozen=True)
class ScoredCrops:
    """What is needed to find the crops an analysis scored in the crop cache."""

    sha256: str
    indices: tuple[int, ...]
    face_settings: FaceSettings
    specs: Mapping[str, CropSpec]  # detector name -> its crop
    stream: int | None = None  # the container's video stream the analysis decoded (None: the file's default)

    @classmethod
    def of_analysis(cls, sha256: str, settings: dict, models: Sequence[dict]) -> ScoredCrops | None:
        """From an analysis's saved settings and model records; None when they predate recorded crop specs."""
        specs = {m["name"]: CropSpec(**m["crop"]) for m in models if m.get("crop")}
        plans = settings.get("plans") or {}
        if not specs or not plans or "face_settings" not in settings:
            return None
        face = dict(settings["face_settings"], device=settings.get("device", "auto"))
        face["thresholds"] = tuple(face.get("thresholds", ()))
        indices = union_indices(SamplingPlan.from_dict(p) for p in plans.values())
        return cls(sha256, indices, FaceSettings(**face), specs, settings.get("stream_index"))


@dataclass(frozen=True)
class Wanted:
    """One key frame to print: the face of ``track`` in frame ``frame`` at ``box``, scored by ``detector``."""

    frame: int
    box: tuple[float, float, float, float]
    detector: str


def decode_key_frames(info: VideoInfo, wanted: Sequence[Wanted], scored: ScoredCrops | None,
                      cache: CropCache | None = None,
                      sequential_limit: int = SEQUENTIAL_CHECK_LIMIT) -> dict[int, KeyFrameSource]:
    """Every wanted frame, decoded and checked; raises :class:`KeyFrameMismatch` on the first wrong one.

    ``sequential_limit``: the most frames a fallback check by sequential decode may read (0: no fallback).
    """
    indices = sorted({w.frame for w in wanted})
    asked = scored.stream if scored is not None else None
    with VideoReader(info.path, info, stream=asked) as reader:
        frames = {f.index: f for f in reader.frames(indices)}
        stream = reader.stream_index
    cache = cache if cache is not None else CropCache(paths.cache_dir() / "crops")
    checks = {w.frame: _check_against_scored_crop(frames[w.frame], w, scored, cache, stream)
              for w in wanted if w.frame in frames}
    unchecked = [i for i, check in checks.items() if check is None]
    checks.update(_check_against_sequence(info, {i: frames[i] for i in unchecked}, sequential_limit, stream))
    return {i: KeyFrameSource(frames[i], check) for i, check in checks.items()}


def _check_against_scored_crop(frame: Frame, want: Wanted, scored: ScoredCrops | None,
                               cache: CropCache, stream: int) -> str | None:
    """CHECKED_BY_CROP, or None when the cache cannot answer; raises on a mismatch."""
    spec = scored.specs.get(want.detector) if scored is not None else None
    if spec is None or spec.kind == "landmarks":
        return None
    key = (scored.sha256, scored.indices, scored.face_settings)
    detections = cache.load_detections(*key, stream=stream)
    crops = cache.load_crops(*key, spec, stream=stream)
    if detections is None or crops is None:
        return None
    found = _face_at(detections[0], frame.index, want.box)
    if found is None or (frame.index, found[0]) not in crops:
        return None
    number, detection = found
    if not np.array_equal(spec.cut(frame.image, detection), crops[(frame.index, number)]):
        raise KeyFrameMismatch(f"frame {frame.index} (pts {frame.pts}) decoded to other pixels than the face crop "
                               "the analysis scored; the report was not written")
    return CHECKED_BY_CROP


def _face_at(frames, index: int, box) -> tuple[int, FaceDetection] | None:
    """(face number, detection) of the cached face in frame ``index`` whose box is ``box``."""
    for frame_faces in frames:
        if frame_faces.index != index:
            continue
        for number, detection in enumerate(frame_faces.faces):
            if max(abs(a - b) for a, b in zip(detection.box, box)) <= BOX_TOLERANCE_PX:
                return number, detection
    return None


def _check_against_sequence(info: VideoInfo, frames: dict[int, Frame], limit: int, stream: int) -> dict[int, str]:
    """Compare ``frames`` with a decode from the first frame that never seeks; raises on a mismatch."""
    if not frames:
        return {}
    last = max(frames)
    if last >= limit:
        return {i: "not checked: the crops the analysis scored are no longer cached" for i in frames}
    compared = set()
    with VideoReader(info.path, info, stream=stream) as reader:
        for frame in reader.frames(range(last + 1)):
            if frame.index in frames and not np.array_equal(frame.image, frames[frame.index].image):
                raise KeyFrameMismatch(f"frame {frame.index} decoded to other pixels when reached by a seek than by a "
                                       "sequential decode; the report was not written")
            compared.add(frame.index)
    return {i: CHECKED_BY_SEQUENCE if i in compared else "not checked: a sequential decode did not reach it"
            for i in frames}
