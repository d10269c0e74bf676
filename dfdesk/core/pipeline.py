"""The face pipeline: one decode of the wanted frames, batched detection, crops, tracks.

``path`` is a video file, or a folder of still frames (core/frame_folder.py).
``extract_faces`` is a generator: it yields a :class:`Progress` per batch and returns a
:class:`FaceExtraction`.  Drive it with ``result = yield from extract_faces(...)`` or
:func:`run_to_end`.  With a cache, detections and crops computed before are reused: frames
are decoded again only for crop specs not cached yet, and detection never runs twice.  Shot
changes between sampled frames are found while detecting and end every track (see tracking.py).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from dfdesk.core.crop_cache import CropCache, CropKey
from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceDetector, FaceSettings, shared_detector
from dfdesk.core.frame_folder import open_source
from dfdesk.core.heap import release_free_memory
from dfdesk.core.steps import run_to_end  # noqa: F401  (re-exported: callers drive extract_faces with it)
from dfdesk.core.tracking import build_tracks, find_shot_starts, frame_signature
from dfdesk.core.types import FaceTrack, Frame, FrameFaces, Progress, VideoInfo

STAGE = "decode+detect"
# Full-resolution frames held at once are capped at this size: 16 frames at 1080p (100 MB), 10 at 4K, 2 at 8K.
FRAME_BATCH_BYTES = 256 * 2**20
TrackKey = tuple[int, int]  # (track id, frame index)


class Cancelled(Exception):
    """The caller asked the pipeline to stop; raised between batches."""


@dataclass(frozen=True)
class FaceExtraction:
    """Faces found in the sampled frames.

    ``crops[spec][(track_id, frame_index)]`` is the crop of that track's face in that frame
    (uint8; (S, S, 3) for rgb, (S, S) for gray).  Every detection belongs to exactly one track.
    """

    frames: tuple[FrameFaces, ...]
    tracks: tuple[FaceTrack, ...]
    crops: dict[CropSpec, dict[TrackKey, np.ndarray]] = field(repr=False)
    warnings: tuple[str, ...] = ()
    shot_starts: tuple[int, ...] = ()  # sampled frames that begin a new shot (tracks never cross them)

    @property
    def no_face(self) -> bool:
        return not self.tracks

    @property
    def main_track(self) -> FaceTrack | None:
        return next((t for t in self.tracks if t.is_main), None)

    def track_crops(self, spec: CropSpec, track_id: int) -> list[tuple[int, np.ndarray]]:
        """(frame index, crop) of one track, in frame order."""
        return sorted(((f, c) for (t, f), c in self.crops[spec].items() if t == track_id), key=lambda p: p[0])


def extract_faces(path: str | os.PathLike, info: VideoInfo, indices: Sequence[int], settings: FaceSettings,
                  crop_specs: Iterable[CropSpec], *, sha256: str | None = None, cache: CropCache | None = None,
                  cancel: Callable[[], bool] | None = None, detector: FaceDetector | None = None,
                  threads: int = 0) -> Generator[Progress, None, FaceExtraction]:
    """Detect faces in the frames at ``indices`` and cut every requested crop in the same pass.

    ``cancel``: polled between batches; when it returns True, :class:`Cancelled` is raised.
    ``cache`` is used only together with the evidence's ``sha256``.
    """
    indices = tuple(sorted(set(indices)))
    specs = tuple(dict.fromkeys(crop_specs))
    store = _CacheView(cache, sha256, indices, settings) if cache is not None and sha256 else None
    cached = store.detections() if store else None
    crops = {spec: store.crops(spec) for spec in specs} if store else {spec: None for spec in specs}
    missing = tuple(spec for spec in specs if crops[spec] is None)
    if cached is not None and not missing:
        frames, warnings, shots = cached
        yield Progress(STAGE, len(frames), len(frames), "from cache")
    else:
        frames, warnings, shots, new_crops = yield from _decode_pass(
            path, info, indices, settings, missing, cached, cancel, detector, threads)
        crops.update(new_crops)
        if store:
            store.save(frames, warnings, shots, new_crops, detections_known=cached is not None)
    return _assemble(frames, crops, warnings, shots)


def _decode_pass(path, info, indices, settings, specs, cached, cancel, detector, threads):
    """Decode, detect (unless ``cached``) and crop: (frames, warnings, shot starts, crops by (frame, face number)).

    Shot changes are found while detecting (every sampled frame is decoded then) and cached with the detections.
    """
    known = {f.index: f for f in cached[0]} if cached is not None else None
    to_decode = [i for i in indices if known[i].faces] if known is not None else list(indices)
    detector = detector or (shared_detector(settings) if known is None else None)
    crops: dict[CropSpec, dict[CropKey, np.ndarray]] = {spec: {} for spec in specs}
    found: list[FrameFaces] = []
    signatures: list[tuple[int, np.ndarray]] = []
    with open_source(path, info, threads) as reader:
        done = 0
        for batch in _batches(reader.frames(to_decode), frames_per_batch(settings.batch_size, info), cancel):
            faces = [known[f.index] for f in batch] if known is not None else detector.detect(batch)
            _cut(batch, faces, crops)
            if known is None:
                signatures += [(f.index, frame_signature(f.image)) for f in batch]
            found += faces
            done += len(batch)
            del batch  # the batch's full-resolution frames: freed and handed back before the next one is decoded
            release_free_memory()
            yield Progress(STAGE, done, len(to_decode))
        warnings = list(dict.fromkeys((cached[1] if cached is not None else []) + reader.warnings))
    if cached is not None:
        return list(cached[0]), warnings, cached[2], crops
    return found, warnings, find_shot_starts(signatures), crops


def frames_per_batch(batch_size: int, info: VideoInfo) -> int:
    """``batch_size``, or fewer when that many full-resolution RGB frames would exceed FRAME_BATCH_BYTES."""
    return max(1, min(batch_size, FRAME_BATCH_BYTES // max(1, info.width * info.height * 3)))


def _batches(frames: Iterator[Frame], size: int, cancel: Callable[[], bool] | None) -> Iterator[list[Frame]]:
    while True:
        if cancel is not None and cancel():
            raise Cancelled("face extraction was cancelled")
        batch = list(islice(frames, size))
        if not batch:
            return
        yield batch


def _cut(batch: Sequence[Frame], faces: Sequence[FrameFaces], crops: dict[CropSpec, dict[CropKey, np.ndarray]]):
    for frame, frame_faces in zip(batch, faces):
        for number, detection in enumerate(frame_faces.faces):
            for spec, store in crops.items():
                store[(frame.index, number)] = spec.cut(frame.image, detection)


def _assemble(frames: Sequence[FrameFaces], crops: dict[CropSpec, dict[CropKey, np.ndarray]],
              warnings: Sequence[str], shot_starts: Sequence[int]) -> FaceExtraction:
    tracks = build_tracks(frames, shot_starts=set(shot_starts))
    owner = _track_of_face(frames, tracks)
    by_track = {spec: {owner[key]: crop for key, crop in spec_crops.items() if key in owner}
                for spec, spec_crops in crops.items()}
    return FaceExtraction(tuple(frames), tuple(tracks), by_track, tuple(warnings), tuple(shot_starts))


def _track_of_face(frames: Sequence[FrameFaces], tracks: Sequence[FaceTrack]) -> dict[CropKey, TrackKey]:
    """(frame index, face number) -> (track id, frame index)."""
    number = {(f.index, id(d)): n for f in frames for n, d in enumerate(f.faces)}
    return {(i, number[(i, id(d))]): (t.track_id, i)
            for t in tracks for i, d in zip(t.frame_indices, t.detections)}


class _CacheView:
    """The cache entries of one evidence file, one list of frames and one face-settings value."""

    def __init__(self, cache: CropCache, sha256: str, indices: tuple[int, ...], settings: FaceSettings):
        self.cache, self.key = cache, (sha256, indices, settings)

    def detections(self):
        return self.cache.load_detections(*self.key)

    def crops(self, spec: CropSpec):
        return self.cache.load_crops(*self.key, spec)

    def save(self, frames, warnings, shot_starts, crops, detections_known: bool) -> None:
        if not detections_known:
            self.cache.save_detections(*self.key, frames, warnings, shot_starts)
        for spec, spec_crops in crops.items():
            self.cache.save_crops(*self.key, spec, spec_crops)
