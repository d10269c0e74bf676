"""Frame samplers: which frames of a video an analysis looks at, as plain, recordable data.

Modes: ``uniform`` (N evenly spaced), ``random`` (N distinct, seeded; Su et al. use 15),
``clips`` (N non-overlapping runs of T consecutive frames, evenly spread; LipForensics 25,
StA 8, Xception-ConvLSTM 30), ``every`` (every k-th frame) and ``all``.  A plan is
deterministic for its arguments and seed, and is stored with every result (``to_dict``).

When a sampled frame shows no main face, the face pipeline tries frames near it (``nearby_frames``) and the
analysis scores the one that shows it instead (``with_added_frames``): the number of frames scored stays the plan's.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

MODES = ("uniform", "random", "clips", "every", "all")
MAX_NEARBY_OFFSET = 12  # frames: a frame tried instead of a sampled one lies at most this far from it


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


def nearby_frames(indices: Sequence[int], frame_count: int, wanted: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Frames to try instead of each ``wanted`` sampled frame: one after it, then one before it.

    Both lie ``d`` frames away, d = (distance to the nearest other sampled frame - 2) // 2, at most MAX_NEARBY_OFFSET,
    and closer where the video ends first: a tried frame is always nearer to its own sampled frame than to any
    other, and never next to a frame tried for a neighbour (so no two tries are consecutive frames, which landmark
    calibration would link).  A frame whose neighbours are close (clips of consecutive frames, ``all``) gets none.
    """
    ordered = sorted(set(indices))
    found: dict[int, tuple[int, ...]] = {}
    for frame in wanted:
        offset = min(MAX_NEARBY_OFFSET, (_gap_to_neighbours(ordered, frame) - 2) // 2)
        if offset < 1:
            continue
        tries = (min(frame + offset, frame_count - 1), max(frame - offset, 0))
        if tries := tuple(dict.fromkeys(c for c in tries if c != frame)):
            found[frame] = tries
    return found


def _gap_to_neighbours(ordered: list[int], frame: int) -> int:
    """Frames from ``frame`` to the nearest other frame of ``ordered`` (a large number when there is none)."""
    position = bisect_left(ordered, frame)
    neighbours = ordered[max(0, position - 1) : position + 2]
    return min((abs(n - frame) for n in neighbours if n != frame), default=2 * MAX_NEARBY_OFFSET + 1)


def with_added_frames(plan: SamplingPlan, added: Mapping[int, int]) -> SamplingPlan:
    """The plan with the frame added for each of its frames (``added``: sampled frame -> frame used instead).

    Only a plan of single frames takes them (the face pipeline adds frames only near isolated sampled frames, so
    clips of consecutive frames never have any).  The sampled frame stays in the plan: it may show other faces.
    """
    extra = {added[i] for i in plan.indices if i in added}
    if not extra or any(len(clip) != 1 for clip in plan.clips):
        return plan
    indices = tuple(sorted(set(plan.indices) | extra))
    return replace(plan, indices=indices, clips=tuple((i,) for i in indices))


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
