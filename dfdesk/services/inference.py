"""Running one detector over the face tracks of one video: batched clips in, calibrated P(fake) out."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dfdesk.core.crops import CropSpec
from dfdesk.core.pipeline import Cancelled, FaceExtraction
from dfdesk.core.sampling import SamplingPlan
from dfdesk.detectors.base import Detector, crops_to_tensor
from dfdesk.detectors.cards import ModelCard, fake_probability

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
