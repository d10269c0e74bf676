"""The face pipeline: one decode of the wanted frames, batched detection, crops, tracks.

``source`` is a video file (a path, or an :class:`~dfdesk.core.evidence_file.OpenedEvidence` already hashed), or a
folder of still frames (core/frame_folder.py).  The crop cache is keyed by the SHA-256 of the bytes decoded: a video
is hashed and decoded through one descriptor (a path given with a cache is opened and hashed here and must still
have the ``sha256`` the caller gave), and, before anything is saved to the cache or served from it, ``fstat``
must show the file unchanged since it was hashed (else :class:`~dfdesk.core.evidence_file.EvidenceChanged`, naming
both hashes).
``extract_faces`` is a generator: it yields a :class:`Progress` per batch and returns a
:class:`FaceExtraction`.  Drive it with ``result = yield from extract_faces(...)`` or
:func:`run_to_end`.  With a cache, detections and crops computed before are reused: frames
are decoded again only for crop specs not cached yet, and detection never runs twice.  Shot
changes between sampled frames are found while detecting and end every track (see tracking.py).
Detection keeps faces down to ``settings.continue_score``; tracking keeps the weaker ones only where they continue a
track that a confident face started.  Where the main face is missing from a sampled frame, frames near it are
detected too and the first that shows it is kept, with that face only (top_up.py).
Landmark kinds (``landmarks``, ``frame_landmarks``) are computed in the same pass by a
:class:`~dfdesk.core.landmark_stream.LandmarkStream`, which calibrates them over consecutive frames.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from dfdesk.core.crop_cache import NO_IDENTITY, CropCache, CropKey
from dfdesk.core.crops import CropSpec
from dfdesk.core.evidence_file import EvidenceChanged, OpenedEvidence
from dfdesk.core.face_presence import FacePresence, main_face_presence, sampled_frame_of
from dfdesk.core.faces import FaceDetector, FaceSettings, shared_detector, too_small_for_faces
from dfdesk.core.frame_folder import is_frame_folder, open_source
from dfdesk.core.heap import release_free_memory
from dfdesk.core.landmark_calibration import normalise_landmarks
from dfdesk.core.landmark_stream import FaceLandmarks, LandmarkStream
from dfdesk.core.landmarks import FaceLandmarker, shared_landmarker
from dfdesk.core.probe import chosen_video_stream, open_container
from dfdesk.core.steps import run_to_end  # noqa: F401  (re-exported: callers drive extract_faces with it)
from dfdesk.core.top_up import AddedFace, choose_added, frames_to_try
from dfdesk.core.tracking import build_tracks, find_shot_starts, frame_signature
from dfdesk.core.types import FaceTrack, Frame, FrameFaces, Progress, VideoInfo
from dfdesk.core.video import VideoReader

STAGE = "decode+detect"
TOP_UP_MESSAGE = "frames near those without the main face"
# Full-resolution frames held at once are capped at this size: 16 frames at 1080p (100 MB), 10 at 4K, 2 at 8K.
FRAME_BATCH_BYTES = 256 * 2**20
TrackKey = tuple[int, int]  # (track id, frame index)


class Cancelled(Exception):
    """The caller asked the pipeline to stop; raised between batches."""


@dataclass(frozen=True)
class FaceExtraction:
    """Faces found in the sampled frames.

    ``frames``: the sampled frames that could be decoded, each with the faces that belong to a track;
    ``added_frames``: frames detected near a sampled frame that lacked the main face, each with the main face only.
    ``crops[spec][(track_id, frame_index)]`` is the crop of that track's face in that frame
    (uint8; (S, S, 3) for rgb, (S, S) for gray; float32 (68, 2) points for the landmark kinds:
    ``LANDMARKS`` calibrated and normalised for LRNet, ``FRAME_LANDMARKS`` as detected, in frame pixels).
    Every detection belongs to exactly one track.  ``presence``: how many sampled frames show the main face and why
    the others do not (its sentence is also among the ``warnings`` when a frame lacks it).
    """

    frames: tuple[FrameFaces, ...]
    tracks: tuple[FaceTrack, ...]
    crops: dict[CropSpec, dict[TrackKey, np.ndarray]] = field(repr=False)
    warnings: tuple[str, ...] = ()
    shot_starts: tuple[int, ...] = ()  # sampled frames that begin a new shot (tracks never cross them)
    added_frames: tuple[FrameFaces, ...] = ()
    presence: FacePresence | None = None

    @property
    def added(self) -> dict[int, int]:
        """Sampled frame -> the frame near it whose main face is used instead."""
        sampled = [f.index for f in self.frames]
        return {sampled_frame_of(sampled, f.index): f.index for f in self.added_frames}

    @property
    def all_frames(self) -> tuple[FrameFaces, ...]:
        """Sampled and added frames, in frame order."""
        return tuple(sorted(self.frames + self.added_frames, key=lambda f: f.index))

    @property
    def no_face(self) -> bool:
        return not self.tracks

    @property
    def main_track(self) -> FaceTrack | None:
        return next((t for t in self.tracks if t.is_main), None)

    def track_crops(self, spec: CropSpec, track_id: int) -> list[tuple[int, np.ndarray]]:
        """(frame index, crop) of one track, in frame order."""
        return sorted(((f, c) for (t, f), c in self.crops[spec].items() if t == track_id), key=lambda p: p[0])


def extract_faces(source: str | os.PathLike | OpenedEvidence, info: VideoInfo, indices: Sequence[int],
                  settings: FaceSettings, crop_specs: Iterable[CropSpec], *, sha256: str | None = None,
                  cache: CropCache | None = None, cancel: Callable[[], bool] | None = None,
                  detector: FaceDetector | None = None, threads: int = 0, landmarker: FaceLandmarker | None = None,
                  stream: int | None = None) -> Generator[Progress, None, FaceExtraction]:
    """Detect faces in the frames at ``indices`` and cut every requested crop in the same pass.

    ``cancel``: polled between batches; when it returns True, :class:`Cancelled` is raised.
    ``cache`` is used only together with the evidence's ``sha256`` (or an opened evidence that was hashed).
    ``stream``: the container index of the video stream to decode (None: the default one).  ``landmarker``: for
    the landmark kinds (the process's shared one when None).
    """
    with ExitStack() as owned:
        evidence = _hashed_evidence(source, sha256 if cache is not None else None, owned)
        key = evidence.sha256 if evidence is not None and evidence.sha256 else sha256
        stream = _stream_index(evidence, stream) if evidence is not None else stream
        work = _Work(evidence or source, info, settings, cancel, threads, landmarker, stream)
        store = _CacheView(cache, key, indices, settings, stream, evidence) if cache is not None and key else None
        return (yield from _extract(work, tuple(sorted(set(indices))), tuple(dict.fromkeys(crop_specs)), store,
                                    detector))


def _extract(work: _Work, indices: tuple[int, ...], specs: tuple[CropSpec, ...], store: _CacheView | None,
             detector: FaceDetector | None) -> Generator[Progress, None, FaceExtraction]:
    """Detections and crops from the cache where it holds them, decoded otherwise (and then cached)."""
    cached = store.detections() if store else None
    crops = {spec: store.crops(spec) for spec in specs} if store else {spec: None for spec in specs}
    missing = tuple(spec for spec in specs if crops[spec] is None)
    if cached is not None:
        frames, warnings, shots = cached
        if missing:
            new_crops, more_warnings = yield from _crops_of_known_faces(work, indices, frames, missing)
            crops.update(new_crops)
            warnings = list(dict.fromkeys(list(warnings) + more_warnings))
            store.save(frames, warnings, shots, new_crops, detections_known=True)
        else:
            store.check_unchanged()
            yield Progress(STAGE, len(frames), len(frames), "from cache")
    else:
        found = yield from _detect(work, indices, missing, detector)
        frames, warnings, shots = found.frames, found.warnings, found.shot_starts()
        crops.update(found.crops)
        if store:
            store.save(frames, warnings, shots, found.crops, detections_known=False)
    if isinstance(work.source, OpenedEvidence) and work.source.sha256:
        work.source.check_unchanged()  # what was decoded is what was hashed
    return _assemble(indices, frames, crops, warnings, shots, work.settings)


def _hashed_evidence(source, sha256: str | None, owned: ExitStack) -> OpenedEvidence | None:
    """The opened evidence file to decode (and key the cache by): ``source`` itself when it is one, or, when a
    cache is to be keyed by ``sha256``, the video file at path ``source`` opened and hashed here (closed by
    ``owned``).  EvidenceChanged when the bytes behind the descriptor do not have ``sha256``."""
    if isinstance(source, OpenedEvidence):
        evidence = source
    elif sha256 is None or is_frame_folder(source):
        return None
    else:
        evidence = owned.enter_context(OpenedEvidence(source))
    if sha256 is not None and (evidence.sha256 or evidence.hash()) != sha256:
        raise EvidenceChanged(f"{evidence.path}: the file's SHA-256 is now {evidence.sha256}, not {sha256} as "
                              "checked before; its faces are not extracted")
    return evidence


def _stream_index(evidence: OpenedEvidence, requested: int | None) -> int:
    """The container index of the video stream decoded: ``requested``, else the default one."""
    if requested is not None:
        return requested
    with open_container(evidence) as container:
        return chosen_video_stream(container, None, evidence.path).index


def open_frames_reader(source, info: VideoInfo, threads: int, stream: int | None):
    """The decoder of one pass: a frame folder's reader, or a VideoReader of the chosen stream."""
    if not isinstance(source, OpenedEvidence) and is_frame_folder(source):
        return open_source(source, info, threads)
    return VideoReader(source, info, threads, stream)


@dataclass(frozen=True)
class _Work:
    """What every decode pass of one extraction reads and how."""

    source: str | os.PathLike | OpenedEvidence
    info: VideoInfo
    settings: FaceSettings
    cancel: Callable[[], bool] | None
    threads: int
    landmarker: FaceLandmarker | None
    stream: int | None = None


@dataclass
class _Decoded:
    """What decode passes found: faces per frame (weak ones included), crops by (frame, face number), colour
    signatures of the frames (for shot changes) and decoding warnings."""

    frames: list[FrameFaces]
    crops: dict[CropSpec, dict[CropKey, np.ndarray]]
    signatures: list[tuple[int, np.ndarray]]
    warnings: list[str]

    def shot_starts(self) -> tuple[int, ...]:
        return find_shot_starts(sorted(self.signatures, key=lambda s: s[0]))

    def tracks(self, settings: FaceSettings) -> list[FaceTrack]:
        return build_tracks(self.frames, shot_starts=set(self.shot_starts()), start_score=settings.min_score)

    def joined(self, other: _Decoded) -> _Decoded:
        return _Decoded(self.frames + other.frames, {s: {**c, **other.crops[s]} for s, c in self.crops.items()},
                        self.signatures + other.signatures, list(dict.fromkeys(self.warnings + other.warnings)))

    def with_added(self, other: _Decoded, added: Sequence[AddedFace]) -> _Decoded:
        """These frames plus, from ``other``, each added frame with its main face alone (face number 0)."""
        times = {f.index: f.time_s for f in other.frames}
        frames = [FrameFaces(a.frame, times[a.frame], (a.face,)) for a in added]
        crops = {spec: {**c, **{(a.frame, 0): other.crops[spec][(a.frame, a.number)] for a in added}}
                 for spec, c in self.crops.items()}
        kept = {a.frame for a in added}
        signatures = [s for s in other.signatures if s[0] in kept]
        return _Decoded(self.frames + frames, crops, self.signatures + signatures,
                        list(dict.fromkeys(self.warnings + other.warnings)))


def _detect(work: _Work, indices: Sequence[int], specs: Sequence[CropSpec], detector: FaceDetector | None
            ) -> Generator[Progress, None, _Decoded]:
    """Detection and crops over the sampled frames, then over frames near those that lack the main face."""
    detector = detector or shared_detector(work.settings)

    def faces_of(batch: list[Frame]) -> list[FrameFaces]:
        return detector.detect(batch, work.settings.continue_score)

    found = yield from _decode_pass(work, indices, faces_of, specs)
    if not work.settings.top_up:
        return found
    tries = frames_to_try(indices, work.info.frame_count, found.frames, found.tracks(work.settings),
                          found.shot_starts())
    if not tries:
        return found
    near = yield from _decode_pass(work, sorted({f for tried in tries.values() for f in tried}), faces_of, specs,
                                   TOP_UP_MESSAGE)
    added = choose_added(tries, near.frames, found.joined(near).tracks(work.settings))
    return found.with_added(near, added)


def _crops_of_known_faces(work: _Work, indices: Sequence[int], frames: Sequence[FrameFaces],
                          specs: Sequence[CropSpec]) -> Generator[Progress, None, tuple[dict, list[str]]]:
    """Crops of cached faces: sampled frames in one pass, added frames in another, as when they were detected
    (so landmarks are calibrated over the same runs of frames)."""
    known = {f.index: f for f in frames}
    sampled = set(indices)
    crops: dict[CropSpec, dict[CropKey, np.ndarray]] = {spec: {} for spec in specs}
    warnings: list[str] = []
    for subset in ([i for i in known if i in sampled], [i for i in known if i not in sampled]):
        wanted = sorted(i for i in subset if known[i].faces)
        if wanted:
            found = yield from _decode_pass(work, wanted, lambda batch: [known[f.index] for f in batch], specs)
            for spec, spec_crops in found.crops.items():
                crops[spec].update(spec_crops)
            warnings += found.warnings
    return crops, warnings


def _decode_pass(work: _Work, to_decode: Sequence[int], faces_of: Callable[[list[Frame]], list[FrameFaces]],
                 specs: Sequence[CropSpec], message: str = "") -> Generator[Progress, None, _Decoded]:
    """Decode ``to_decode`` in batches, find each batch's faces with ``faces_of`` and cut every spec's crops.

    Only one batch of full-resolution frames is held at a time.
    """
    crops: dict[CropSpec, dict[CropKey, np.ndarray]] = {spec: {} for spec in specs}
    stream = _landmark_stream(specs, work.landmarker)
    found: list[FrameFaces] = []
    signatures: list[tuple[int, np.ndarray]] = []
    with open_frames_reader(work.source, work.info, work.threads, work.stream) as reader:
        done = 0
        size = frames_per_batch(work.settings.batch_size, work.info)
        for batch in _batches(reader.frames(list(to_decode)), size, work.cancel):
            faces = faces_of(batch)
            _cut(batch, faces, crops)
            if stream is not None:
                _store_landmarks(stream.add(batch, faces), faces, crops)
            signatures += [(f.index, frame_signature(f.image)) for f in batch]
            found += faces
            done += len(batch)
            del batch  # the batch's full-resolution frames: freed and handed back before the next one is decoded
            release_free_memory()
            yield Progress(STAGE, done, len(to_decode), message)
        warnings = list(reader.warnings)
    too_small = too_small_for_faces(work.info.width, work.info.height, work.settings)
    return _Decoded(found, crops, signatures, warnings + ([too_small] if too_small else []))


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
    images = {spec: store for spec, store in crops.items() if not spec.is_landmarks}
    for frame, frame_faces in zip(batch, faces):
        for number, detection in enumerate(frame_faces.faces):
            for spec, store in images.items():
                store[(frame.index, number)] = spec.cut(frame.image, detection)


def _landmark_stream(specs: Sequence[CropSpec], landmarker: FaceLandmarker | None) -> LandmarkStream | None:
    """A stream when a landmark kind is asked for; it calibrates only when ``landmarks`` (LRNet's) are."""
    kinds = {spec.kind for spec in specs if spec.is_landmarks}
    if not kinds:
        return None
    return LandmarkStream(landmarker or shared_landmarker(), calibrate="landmarks" in kinds)


def _store_landmarks(found: dict[CropKey, FaceLandmarks], faces: Sequence[FrameFaces],
                     crops: dict[CropSpec, dict[CropKey, np.ndarray]]) -> None:
    """``frame_landmarks``: the raw points; ``landmarks``: the calibrated points normalised as LRNet reads them."""
    detections = {(f.index, n): d for f in faces for n, d in enumerate(f.faces)}
    for spec, store in crops.items():
        if spec.kind == "frame_landmarks":
            store.update((key, points.raw) for key, points in found.items())
        elif spec.kind == "landmarks":
            store.update((key, normalise_landmarks(points.calibrated, detections[key]))
                         for key, points in found.items())


def _assemble(indices: Sequence[int], frames: Sequence[FrameFaces], crops: dict[CropSpec, dict[CropKey, np.ndarray]],
              warnings: Sequence[str], shot_starts: Sequence[int], settings: FaceSettings) -> FaceExtraction:
    """Tracks over the detected faces (two thresholds), crops keyed by track, and the main face's presence."""
    tracks = build_tracks(frames, shot_starts=set(shot_starts), start_score=settings.min_score)
    owner = _track_of_face(frames, tracks)
    by_track = {spec: {owner[key]: crop for key, crop in spec_crops.items() if key in owner}
                for spec, spec_crops in crops.items()}
    sampled = set(indices)
    kept = _tracked_faces_only(frames, tracks)
    presence = main_face_presence(indices, [f for f in frames if f.index in sampled], tracks)
    sentence = presence.sentence()
    return FaceExtraction(tuple(f for f in kept if f.index in sampled), tuple(tracks), by_track,
                          tuple(warnings) + ((sentence,) if sentence else ()), tuple(shot_starts),
                          tuple(f for f in kept if f.index not in sampled), presence)


def _tracked_faces_only(frames: Sequence[FrameFaces], tracks: Sequence[FaceTrack]) -> list[FrameFaces]:
    """The frames in frame order, each with only the faces that belong to a track (weak faces left alone dropped)."""
    tracked = {id(d) for t in tracks for d in t.detections}
    return [FrameFaces(f.index, f.time_s, tuple(d for d in f.faces if id(d) in tracked))
            for f in sorted(frames, key=lambda f: f.index)]


def _track_of_face(frames: Sequence[FrameFaces], tracks: Sequence[FaceTrack]) -> dict[CropKey, TrackKey]:
    """(frame index, face number) -> (track id, frame index)."""
    number = {(f.index, id(d)): n for f in frames for n, d in enumerate(f.faces)}
    return {(i, number[(i, id(d))]): (t.track_id, i)
            for t in tracks for i, d in zip(t.frame_indices, t.detections)}


class _CacheView:
    """The cache entries of one evidence file (one SHA-256 and video stream), one list of frames and one
    face-settings value.  With an opened evidence file, nothing is saved to the cache or served from it unless
    the file is unchanged since it was hashed."""

    def __init__(self, cache: CropCache, sha256: str, indices: Sequence[int], settings: FaceSettings,
                 stream: int | None, evidence: OpenedEvidence | None):
        self.cache, self.key = cache, (sha256, tuple(sorted(set(indices))), settings)
        self.stream, self.evidence = stream or 0, evidence

    def detections(self):
        return self.cache.load_detections(*self.key, stream=self.stream)

    def crops(self, spec: CropSpec):
        return self.cache.load_crops(*self.key, spec, stream=self.stream)

    def check_unchanged(self) -> None:
        if self.evidence is not None:
            self.evidence.check_unchanged()

    def save(self, frames, warnings, shot_starts, crops, detections_known: bool) -> None:
        self.check_unchanged()
        made_from = self.evidence.identity if self.evidence is not None else NO_IDENTITY
        if not detections_known:
            self.cache.save_detections(*self.key, frames, warnings, shot_starts, stream=self.stream,
                                       made_from=made_from)
        for spec, spec_crops in crops.items():
            self.cache.save_crops(*self.key, spec, spec_crops, stream=self.stream, made_from=made_from)
