"""Data set records -> cached face clips -> training samples, through dfdesk's own face pipeline.

Training and analysis crop identically: frames are chosen with :func:`dfdesk.core.sampling.plan_sampling`, faces
found, tracked and cut by :func:`dfdesk.core.pipeline.extract_faces` with the model card's
:class:`~dfdesk.core.crops.CropSpec`, and kept in the same :class:`~dfdesk.core.crop_cache.CropCache` keyed by
the video's SHA-256.  Only the main face track of a video is used.

A :class:`ClipSamples` list turns clips into tensors: with ``pseudo_fakes`` every real clip also yields a
pseudo-fake (self-blended frames, or StA's video-level blend with one draw per clip).  Every random choice comes
from a generator seeded by (seed, epoch, sample), so an epoch is reproducible and a resumed run sees the same data.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec, square_box
from dfdesk.core.faces import FaceSettings
from dfdesk.core.frame_folder import probe_source, sha256_source
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import VideoError
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.types import FaceDetection, FaceTrack
from dfdesk.detectors.base import InputSpec, crops_to_tensor
from dfdesk.detectors.scoring import track_clips
from trainer.augment import AugmentConfig, augment_clip
from trainer.datasets import Problem, VideoRecord
from trainer.pseudofakes import self_blend, self_blend_clip

PSEUDO_SUFFIX = "#pseudo-fake"
EVAL_EPOCH = -1  # the fixed "epoch" that seeds evaluation pseudo-fakes


@dataclass(frozen=True)
class FaceClip:
    """T consecutive sampled crops of one video's main face track."""

    video: str  # the record's path: the unit of video-level metrics
    target: int  # 1 = fake, 0 = real
    split: str
    frames: np.ndarray  # uint8 (T, S, S, 3) for rgb, (T, S, S) for gray
    landmarks: np.ndarray  # float (T, 5, 2), in crop pixels
    frame_indices: tuple[int, ...]


def crop_landmarks(detection: FaceDetection, spec: CropSpec) -> np.ndarray:
    """The 5 landmarks of ``detection`` in the pixels of its face crop (as cut by ``spec``)."""
    left, top, right, _ = square_box(detection, spec.margin)
    scale = spec.size / max(right - left, 1)
    return (np.asarray(detection.landmarks, np.float64) - (left, top)) * scale


def sampling_plan(frame_count: int, spec: InputSpec, max_clips: int, seed: int):
    """Which frames to read: runs of T frames for "clips" sampling (StA, LipForensics), else T x max_clips
    frames spread over the video."""
    t = spec.frames_per_clip
    if spec.sampling == "clips":
        return plan_sampling(frame_count, "clips", frames=max_clips, clip_len=t)
    mode = "random" if spec.sampling == "random" else "uniform"
    return plan_sampling(frame_count, mode, frames=max_clips * t, seed=seed)


def video_clips(record: VideoRecord, spec: InputSpec, *, max_clips: int, settings: FaceSettings,
                cache: CropCache | None, seed: int = 0, cancel: Callable[[], bool] | None = None,
                frame_level: bool = False) -> list[FaceClip]:
    """Face clips of one video (file or frame folder); raises VideoError when it is unreadable.  The main track's
    frames become clips by the analysis's own rule (:func:`dfdesk.detectors.scoring.track_clips`: a clip model's
    clip takes the nearest face for a missing one, a frame-level model sees only frames with the face); a
    training clip holds T frames, so a shorter run of a frame-level model is left out."""
    info = probe_source(record.path)
    plan = sampling_plan(info.frame_count, spec, max_clips, seed)
    crop = CropSpec.from_input(spec)
    sha = sha256_source(record.path) if cache is not None else None
    faces = run_to_end(extract_faces(record.path, info, plan.indices, settings, [crop], sha256=sha, cache=cache,
                                     cancel=cancel))
    track = faces.main_track
    if track is None:
        return []
    crops = dict(faces.track_crops(crop, track.track_id))
    planned = plan.clips if spec.sampling == "clips" else _spread(sorted(plan.indices), spec.frames_per_clip)
    groups = track_clips(plan.indices, planned, crops, spec.frames_per_clip, frame_level)
    return [_clip(record, crop, crops, track, group) for group in groups if len(group) == spec.frames_per_clip]


def _spread(indices: Sequence[int], length: int) -> list[tuple[int, ...]]:
    """``len // length`` clips of ``length`` frames, each spread over the whole video (interleaved), as
    analysis spreads a uniform/random clip over the video."""
    count = len(indices) // length
    return [tuple(indices[k::count][:length]) for k in range(count)]


def _clip(record: VideoRecord, crop: CropSpec, crops: dict, track: FaceTrack, group: tuple[int, ...]) -> FaceClip:
    detection = dict(zip(track.frame_indices, track.detections))
    return FaceClip(video=str(record.path), target=record.target, split=record.split or "train",
                    frames=np.stack([crops[i] for i in group]),
                    landmarks=np.stack([crop_landmarks(detection[i], crop) for i in group]),
                    frame_indices=group)


@dataclass(frozen=True)
class ExtractProgress:
    done: int
    total: int
    video: str


def extract_clips(records: Sequence[VideoRecord], spec: InputSpec, *, max_clips: int, settings: FaceSettings,
                  cache: CropCache | None, seed: int = 0, cancel: Callable[[], bool] | None = None,
                  problems: list[Problem] | None = None, frame_level: bool = False
                  ) -> Iterator[ExtractProgress | FaceClip]:
    """Yield every record's clips, and a progress value after each record; skipped videos go to ``problems``."""
    problems = problems if problems is not None else []
    for done, record in enumerate(records, start=1):
        try:
            found = video_clips(record, spec, max_clips=max_clips, settings=settings, cache=cache, seed=seed,
                                cancel=cancel, frame_level=frame_level)
        except VideoError as exc:
            problems.append(Problem("unreadable", str(exc), str(record.path)))
            found = []
        if not found and not any(p.path == str(record.path) for p in problems):
            problems.append(Problem("no_face", "no face clip could be cut (no face track long enough)",
                                    str(record.path)))
        yield from found
        yield ExtractProgress(done, len(records), str(record.path))


# --- samples ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    clip: int  # index into the clip list
    pseudo_fake: bool

    def target(self, clips: Sequence[FaceClip]) -> int:
        return 1 if self.pseudo_fake else clips[self.clip].target

    def video(self, clips: Sequence[FaceClip]) -> str:
        return clips[self.clip].video + (PSEUDO_SUFFIX if self.pseudo_fake else "")


def build_samples(clips: Sequence[FaceClip], pseudo_fakes: str) -> list[Sample]:
    """One sample per clip, plus a pseudo-fake of every real clip when ``pseudo_fakes`` is not "none"."""
    samples = [Sample(i, False) for i in range(len(clips))]
    if pseudo_fakes != "none":
        samples += [Sample(i, True) for i, c in enumerate(clips) if c.target == 0]
    return samples


class ClipSamples(torch.utils.data.Dataset):
    """Tensors (T, C, H, W) normalised as the input spec says, with their targets (1 = fake)."""

    def __init__(self, clips: Sequence[FaceClip], samples: Sequence[Sample], spec: InputSpec, *,
                 pseudo_fakes: str = "none", augment: AugmentConfig | None = None, seed: int = 0):
        self.clips, self.samples, self.spec = list(clips), list(samples), spec
        self.pseudo_fakes, self.augment, self.seed = pseudo_fakes, augment, seed
        self.epoch = EVAL_EPOCH

    def __len__(self) -> int:
        return len(self.samples)

    def targets(self) -> list[int]:
        return [s.target(self.clips) for s in self.samples]

    def videos(self) -> list[str]:
        return [s.video(self.clips) for s in self.samples]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        sample = self.samples[index]
        clip = self.clips[sample.clip]
        rng = np.random.default_rng([self.seed, self.epoch + 1, index])
        frames = list(clip.frames)
        if sample.pseudo_fake:
            frames = blend_frames(frames, clip.landmarks, rng, self.pseudo_fakes)
        if self.augment is not None:
            frames, _ = augment_clip(frames, rng, self.augment, list(clip.landmarks), consistent=True)
        return crops_to_tensor(np.stack(frames), self.spec), sample.target(self.clips)


def blend_frames(frames: list[np.ndarray], landmarks: np.ndarray, rng: np.random.Generator,
                 how: str) -> list[np.ndarray]:
    """Pseudo-fake frames: one blend per clip ("video_blend", StA) or one per frame ("self_blend", SBI)."""
    if how == "video_blend":
        return list(self_blend_clip(frames, list(landmarks), rng).image)
    return [self_blend(f, m, rng).image for f, m in zip(frames, landmarks)]


# --- records ---------------------------------------------------------------------------------------------------


class DataError(ValueError):
    """The data cannot train or evaluate a model (no videos, a single class, an empty split); one clear line."""


def load_split_records(data, seed: int = 0):
    """(report, records with splits): load the data set, split it without leakage, verify the split.

    Raises DatasetError, LeakageError or DataError with one readable message.
    """
    from trainer.datasets import detect_dataset_kind, load_dataset
    from trainer.splits import assign_splits, verify_splits

    kind = detect_dataset_kind(data.root) if data.kind == "auto" else data.kind
    report = load_dataset(kind, data.root, **data.options)
    if not report.records:
        raise DataError(f"no videos found in {data.root} ({kind} layout; {len(report.problems)} problem(s))")
    records = assign_splits(report.records, data.split_ratios, seed=data.split_seed, by=data.split_by)
    verify_splits(records, by=data.split_by)
    return report, records


def check_classes(clips_or_records, pseudo_fakes: str, what: str = "videos") -> None:
    """Every split needs real and fake examples (pseudo-fakes count as fake when real videos are present)."""
    seen: dict[str, set[int]] = {}
    for item in clips_or_records:
        targets = seen.setdefault(item.split or "train", set())
        targets.add(item.target)
        if pseudo_fakes != "none" and item.target == 0:
            targets.add(1)
    for split in ("train", "val", "test"):
        targets = seen.get(split, set())
        if not targets:
            raise DataError(f"the {split} split has no {what}; add data or change split_ratios")
        if len(targets) == 1:
            only = "fake" if 1 in targets else "real"
            real_only = pseudo_fakes == "none" and only == "real"
            hint = " (set pseudo_fakes to train from real videos only)" if real_only else ""
            raise DataError(f"the {split} split has only {only} {what}: both classes are needed{hint}")
