"""Frame samplers: which frames of a video an analysis looks at, as plain, recordable data.

Modes: ``uniform`` (N evenly spaced), ``random`` (N distinct, seeded; Su et al. use 15),
``clips`` (N non-overlapping runs of T consecutive frames, evenly spread; LipForensics 25,
StA 8, Xception-ConvLSTM 30), ``every`` (every k-th frame) and ``all``.  A plan is
deterministic for its arguments and seed, and is stored with every result (``to_dict``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

MODES = ("uniform", "random", "clips", "every", "all")


@dataclass(frozen=True)
class SamplingPlan:
    """Sorted distinct frame ``indices``; ``clips`` groups them (one frame per clip unless mode is "clips")."""

    mode: str
    frame_count: int
    indices: tuple[int, ...]
    clips: tuple[tuple[int, ...], ...]
    seed: int
    params: tuple[tuple[str, int], ...]  # the sampler's arguments, as sorted (name, value) pairs

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "frame_count": self.frame_count, "indices": list(self.indices),
                "clips": [list(c) for c in self.clips], "seed": self.seed, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingPlan:
        return cls(mode=data["mode"], frame_count=int(data["frame_count"]),
                   indices=tuple(int(i) for i in data["indices"]),
                   clips=tuple(tuple(int(i) for i in c) for c in data["clips"]),
                   seed=int(data["seed"]), params=tuple(sorted((k, int(v)) for k, v in data["params"].items())))


def plan_sampling(frame_count: int, mode: str, *, frames: int = 16, clip_len: int = 1, step: int = 1,
                  seed: int = 0) -> SamplingPlan:
    """Choose frames of a ``frame_count``-frame video.

    ``frames``: N for uniform and random, the number of clips for "clips".  ``clip_len``: T for
    "clips" (a video shorter than T gives no clip).  ``step``: k for "every".
    """
    _check_arguments(frame_count, mode, frames, clip_len, step)
    if mode == "clips":
        clips = _clips(frame_count, frames, clip_len)
        params = {"frames": frames, "clip_len": clip_len}
    else:
        clips = tuple((i,) for i in _single_frames(frame_count, mode, frames, step, seed))
        params = {"frames": frames} if mode in ("uniform", "random") else {"step": step} if mode == "every" else {}
    indices = tuple(sorted({i for clip in clips for i in clip}))
    return SamplingPlan(mode, frame_count, indices, clips, seed, tuple(sorted(params.items())))


def union_indices(plans: Iterable[SamplingPlan]) -> tuple[int, ...]:
    """Every frame any of ``plans`` needs, sorted: what one decode pass must produce."""
    return tuple(sorted({i for plan in plans for i in plan.indices}))


def _check_arguments(frame_count: int, mode: str, frames: int, clip_len: int, step: int) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(MODES)}")
    if frame_count < 1:
        raise ValueError(f"the video has no frame to sample (frame_count={frame_count})")
    if frames < 1 or clip_len < 1 or step < 1:
        raise ValueError(f"frames, clip_len and step must be positive (got {frames}, {clip_len}, {step})")


def _single_frames(frame_count: int, mode: str, frames: int, step: int, seed: int) -> list[int]:
    if mode == "all" or (mode in ("uniform", "random") and frames >= frame_count):
        return list(range(frame_count))
    if mode == "every":
        return list(range(0, frame_count, step))
    if mode == "uniform":
        return _evenly_spaced_starts(frame_count, frames, 1)
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(frame_count, size=frames, replace=False))


def _clips(frame_count: int, count: int, clip_len: int) -> tuple[tuple[int, ...], ...]:
    count = min(count, frame_count // clip_len)
    starts = _evenly_spaced_starts(frame_count, count, clip_len)
    return tuple(tuple(range(s, s + clip_len)) for s in starts)


def _evenly_spaced_starts(frame_count: int, count: int, length: int) -> list[int]:
    """Starts of ``count`` runs of ``length`` frames, each centred in an equal share of the video."""
    if count <= 0:
        return []
    share = frame_count / count
    return [int(k * share + (share - length) / 2) for k in range(count)]
