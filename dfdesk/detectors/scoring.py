"""Scoring one detector over the face tracks of one video, as the analysis does: batched clips in, calibrated P(fake)
out, and the video score of a track.  Shared by the analysis (dfdesk.services.inference, detector_runs) and the
trainer's stacking fit (trainer.stacking), so that the two can never score a video differently.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dfdesk.core.crops import CropSpec
from dfdesk.core.fusion import aggregate_frames
from dfdesk.core.pipeline import Cancelled, FaceExtraction
from dfdesk.core.sampling import SamplingPlan, plan_sampling
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


def clip_inputs(extraction: FaceExtraction, crop_spec: CropSpec, plan: SamplingPlan, clip_len: int,
                frame_level: bool) -> list[ClipInput]:
    """The clips of every track that this detector scores."""
    clips: list[ClipInput] = []
    for track in extraction.tracks:
        crops = dict(extraction.track_crops(crop_spec, track.track_id))
        if frame_level:
            present = [f for f in plan.indices if f in crops]
            groups = [tuple(present[i : i + clip_len]) for i in range(0, len(present), clip_len)]
        else:
            groups = [g for g in (_filled(clip, crops) for clip in plan.clips) if g]
        clips += [ClipInput(track.track_id, g, tuple(crops[f] for f in g)) for g in groups]
    return clips


def _filled(clip: Sequence[int], crops: dict[int, np.ndarray]) -> tuple[int, ...]:
    """The clip's frames, each missing face replaced by the nearest frame that has one; () if too few."""
    present = [f for f in clip if f in crops]
    if len(present) < max(1, int(np.ceil(MIN_CLIP_COVERAGE * len(clip)))):
        return ()
    return tuple(f if f in crops else min(present, key=lambda p: abs(p - f)) for f in clip)


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
