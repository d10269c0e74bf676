"""The database-free scoring engine: which frames each model sees, the clips cut from a video's face tracks,
batched inference to calibrated P(fake), and the video score of a track.

One engine for the analysis (dfdesk.services.analysis, detector_runs) and the trainer (its clips for training, its
evaluation and stacking fit through trainer.video_scorer), so they can never cut or score a video differently:
:func:`plans_for` (every model's frames), :func:`extract_for` (one decode and face pass for them all, through
the crop cache), :func:`score_model` (one model over every track), :func:`track_clips` (the one rule for turning
a track's frames into clips).
"""
from __future__ import annotations

from collections.abc import Callable, Container, Generator, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings
from dfdesk.core.fusion import aggregate_frames
from dfdesk.core.pipeline import Cancelled, FaceExtraction, extract_faces
from dfdesk.core.sampling import SamplingPlan, plan_sampling, union_indices, with_added_frames
from dfdesk.core.types import Progress, VideoInfo
from dfdesk.detectors.base import Detector, crops_to_tensor
from dfdesk.detectors.cards import ModelCard, fake_probability
from dfdesk.detectors.registry import detector_class

DEFAULT_CLIPS = 4  # clip-based detectors look at this many clips unless told otherwise

MIN_CLIP_COVERAGE = 0.5  # a clip is scored when its track has a face in at least half of its frames


@dataclass(frozen=True)
class ClipInput:
    track_id: int
    frames: tuple[int, ...]  # frame index of each of the T positions (repeated where a face was missing)
    crops: tuple[np.ndarray, ...] = ()


@dataclass(frozen=True)
class ClipScore:
    track_id: int
    frames: tuple[int, ...]
    probability: float  # calibrated P(fake) of the clip
    frame_probabilities: tuple[float, ...] | None  # per position, frame-level detectors
    attention: tuple[float, ...] | None  # temporal weights per position
    spatial_maps: np.ndarray | None  # (T, h, w) in [0, 1]


def plans_for(cards: Sequence[ModelCard], frame_count: int, frames: int | None = None, sampling: str | None = None,
              seed: int = 0) -> dict[str, SamplingPlan]:
    """Each model's frames (:func:`plan_for`), by model name, in the models' order."""
    return {card.name: plan_for(card, frame_count, frames, sampling, seed) for card in cards}


def extract_for(source, info: VideoInfo, cards: Sequence[ModelCard], plans: dict[str, SamplingPlan],
                face: FaceSettings, *, sha256: str | None, cache: CropCache | None,
                cancel: Callable[[], bool] | None = None, stream: int | None = None
                ) -> Generator[Progress, None, FaceExtraction]:
    """One decode and face pass for the union of the models' frames, cutting every model's crops (generator:
    yields Progress, returns the FaceExtraction); ``source`` is a path, a frame folder or an OpenedEvidence."""
    specs = {CropSpec.from_input(c.input) for c in cards}
    return (yield from extract_faces(source, info, union_indices(plans.values()), face, specs, sha256=sha256,
                                     cache=cache, cancel=cancel, stream=stream))


def score_model(model: Detector, card: ModelCard, plan: SamplingPlan, extraction: FaceExtraction, device: str,
                batch_size: int, cancel: Callable[[], bool] | None = None) -> list[ClipScore]:
    """One model's clip scores over every face track.  A sampled frame whose main face the pipeline found only in
    a frame added nearby is scored through that frame (the number of frames scored stays the plan's)."""
    frames_plan = with_added_frames(plan, extraction.added)
    clips = clip_inputs(extraction, CropSpec.from_input(card.input), frames_plan, card.input.frames_per_clip,
                        is_frame_level(card))
    return list(score_clips(model, card, clips, device, batch_size, cancel))


def clip_inputs(extraction: FaceExtraction, crop_spec: CropSpec, plan: SamplingPlan, clip_len: int,
                frame_level: bool) -> list[ClipInput]:
    """The clips of every track that this detector scores."""
    clips: list[ClipInput] = []
    for track in extraction.tracks:
        crops = dict(extraction.track_crops(crop_spec, track.track_id))
        groups = track_clips(plan.indices, plan.clips, crops, clip_len, frame_level)
        clips += [ClipInput(track.track_id, g, tuple(crops[f] for f in g)) for g in groups]
    return clips


def track_clips(indices: Sequence[int], planned: Sequence[Sequence[int]], faces: Container[int], clip_len: int,
                frame_level: bool) -> list[tuple[int, ...]]:
    """The frame groups of one track that a model sees, in analysis and training alike (``faces``: the frames
    where the track has a face).  Frame-level models: the planned frames with a face, in runs of ``clip_len``.
    Clip models: each planned clip, a frame without the face replaced by the nearest one with it; a clip with a
    face in under half of its frames (``MIN_CLIP_COVERAGE``) is left out."""
    if frame_level:
        present = [f for f in indices if f in faces]
        return [tuple(present[i : i + clip_len]) for i in range(0, len(present), clip_len)]
    return [group for group in (filled_clip(clip, faces) for clip in planned) if group]


def filled_clip(clip: Sequence[int], faces: Container[int]) -> tuple[int, ...]:
    """The clip's frames, each missing face replaced by the nearest frame that has one; () if too few."""
    present = [f for f in clip if f in faces]
    if len(present) < max(1, int(np.ceil(MIN_CLIP_COVERAGE * len(clip)))):
        return ()
    return tuple(f if f in faces else min(present, key=lambda p: abs(p - f)) for f in clip)


def score_clips(model: Detector, card: ModelCard, clips: Sequence[ClipInput], device: str, batch_size: int,
                cancel: Callable[[], bool] | None = None) -> Iterator[ClipScore]:
    """Batched inference; equal-length clips are stacked, the cancel flag is polled between batches."""
    for batch in _batches(clips, batch_size):
        if cancel is not None and cancel():
            raise Cancelled("the analysis was cancelled")
        tensor = torch.stack([crops_to_tensor(c.crops, card.input) for c in batch]).to(device)
        with torch.inference_mode():
            output = model(tensor)
        yield from _scores(card, batch, output)


def _batches(clips: Sequence[ClipInput], size: int) -> Iterator[list[ClipInput]]:
    batch: list[ClipInput] = []
    for clip in clips:
        if batch and (len(batch) == size or len(clip.frames) != len(batch[0].frames)):
            yield batch
            batch = []
        batch.append(clip)
    if batch:
        yield batch


def _scores(card: ModelCard, batch: list[ClipInput], output) -> Iterator[ClipScore]:
    clip_p = fake_probability(card, output.clip_logits.float().cpu()).numpy()
    frame_p = (fake_probability(card, output.frame_logits.float().cpu()).numpy()
               if output.frame_logits is not None else None)
    attention = output.temporal_weights.float().cpu().numpy() if output.temporal_weights is not None else None
    maps = output.spatial_maps.float().cpu().numpy() if output.spatial_maps is not None else None
    for i, clip in enumerate(batch):
        yield ClipScore(clip.track_id, clip.frames, float(clip_p[i]),
                        tuple(float(p) for p in frame_p[i]) if frame_p is not None else None,
                        tuple(float(a) for a in attention[i]) if attention is not None else None,
                        maps[i] if maps is not None else None)


# --- video-level scores (what dfdesk.services.detector_runs reports) ---------------------------------------------


def units_of(scores: Sequence[ClipScore], track_id: int) -> list[float]:
    """The independent scoring units of one track: frame probabilities, or clip probabilities."""
    units: list[float] = []
    for score in scores:
        if score.track_id != track_id:
            continue
        if score.frame_probabilities is not None:
            units += first_per_frame(score.frames, score.frame_probabilities).values()
        else:
            units.append(score.probability)
    return units


def first_per_frame(frames: Sequence[int], values: Sequence[float]) -> dict[int, float]:
    """Positions repeated to fill a clip count once."""
    out: dict[int, float] = {}
    for frame, value in zip(frames, values):
        out.setdefault(frame, value)
    return out


def video_score(units: Sequence[float], frame_level: bool, aggregation: str = "mean") -> float:
    """A track's P(fake): the frame aggregation (mean or "confident") of frame scores, or the mean clip score."""
    return aggregate_frames(units, aggregation) if frame_level else float(np.mean(units))


# --- sampling plans (the analysis's defaults) ---------------------------------------------------------------------


def is_frame_level(card: ModelCard) -> bool:
    return detector_class(card.architecture).frame_level


def plan_for(card: ModelCard, frame_count: int, frames: int | None = None, sampling: str | None = None,
             seed: int = 0) -> SamplingPlan:
    """The frames a detector scores.

    Frame-level detectors: ``sampling``/``frames`` as asked (default: the card's sampling and T frames).
    Clip detectors keep their card's sampling: "clips" gives ``frames // T`` clips of T consecutive frames
    (default 4 clips); "uniform"/"random" give one clip of T frames spread over the video.
    """
    spec = card.input
    clip_len = spec.frames_per_clip
    if is_frame_level(card):
        mode = sampling or spec.sampling
        return plan_sampling(frame_count, mode, frames=frames or clip_len, seed=seed)
    if spec.sampling == "clips":
        count = max(1, (frames or clip_len * DEFAULT_CLIPS) // clip_len)
        return plan_sampling(frame_count, "clips", frames=count, clip_len=clip_len, seed=seed)
    plan = plan_sampling(frame_count, spec.sampling, frames=clip_len, seed=seed)
    return SamplingPlan(plan.mode, plan.frame_count, plan.indices, (plan.indices,), plan.seed, plan.params)
