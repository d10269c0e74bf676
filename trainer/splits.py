"""Train/val/test splits that cannot leak a video or a person from one split into another.

Records are linked through shared keys: a video's own path, the original a fake was made from, and (when
splitting by identity) every identity it shows, namespaced by data set.  Linked records form connected
components, and whole components are assigned to one split: an FF++ fake ``a_b`` joins the split of both ``a``
and ``b``, and a DFDC fake joins its original.  Official splits are kept when the data set defines them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from trainer.datasets.records import SPLITS, VideoRecord

GroupBy = Literal["video", "identity"]


class SplitError(ValueError):
    """Splitting was asked for with impossible settings (bad ratios, unassigned records)."""


class LeakageError(SplitError):
    """The same video, or the same person, is in two splits."""


def record_keys(record: VideoRecord, by: GroupBy = "identity") -> list[tuple[str, ...]]:
    """The keys that tie a record to others: its path, its original, and its identities when ``by='identity'``."""
    if by not in ("video", "identity"):
        raise SplitError(f"by must be 'video' or 'identity', got {by!r}")
    keys = [("video", str(record.path))]
    if record.original is not None:
        keys.append(("video", str(record.original)))
    if by == "identity":
        keys += [("identity", record.dataset, ident) for ident in record.identities]
    return keys


def _describe(key: tuple[str, ...]) -> str:
    return f"video {key[1]}" if key[0] == "video" else f"identity {key[2]} of {key[1]}"


def verify_splits(records: Iterable[VideoRecord], by: GroupBy = "identity") -> None:
    """Raise LeakageError naming the first video or identity found in two splits; SplitError if any is unassigned."""
    first_seen: dict[tuple[str, ...], tuple[str, str]] = {}
    for record in records:
        if record.split is None:
            raise SplitError(f"{record.path} has no split; assign splits before verifying them")
        for key in record_keys(record, by):
            split, path = first_seen.setdefault(key, (record.split, str(record.path)))
            if split != record.split:
                raise LeakageError(f"{_describe(key)} is in both {split} ({path}) and {record.split} "
                                   f"({record.path})")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[tuple[str, ...], tuple[str, ...]] = {}

    def find(self, key: tuple[str, ...]) -> tuple[str, ...]:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: tuple[str, ...], b: tuple[str, ...]) -> None:
        self.parent[self.find(a)] = self.find(b)


def leakage_groups(records: Sequence[VideoRecord], by: GroupBy = "identity") -> list[list[int]]:
    """Indices of records grouped into connected components, each sorted, in order of first record."""
    forest = _UnionFind()
    for record in records:
        keys = record_keys(record, by)
        for key in keys[1:]:
            forest.union(keys[0], key)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault(forest.find(record_keys(record, by)[0]), []).append(index)
    return list(groups.values())


def _targets(ratios: Sequence[float], total: int) -> np.ndarray:
    weights = np.asarray(ratios, dtype=float)
    if weights.shape != (3,) or not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise SplitError(f"ratios must be three non-negative numbers (train, val, test), got {tuple(ratios)}")
    return weights / weights.sum() * total


def _official_split(records: Sequence[VideoRecord], group: list[int]) -> str | None:
    splits = {records[i].split for i in group} - {None}
    if len(splits) > 1:
        verify_splits([records[i] for i in group if records[i].split is not None])
        names = ", ".join(sorted(str(records[i].path) for i in group)[:3])
        raise LeakageError(f"official splits {sorted(splits)} are linked through unassigned videos ({names}...)")
    return splits.pop() if splits else None


def assign_splits(records: Sequence[VideoRecord], ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
                  by: GroupBy = "identity", respect_official: bool = True) -> list[VideoRecord]:
    """Give every record a split; whole components go to one split, free ones by seeded video-count ratios.

    With ``respect_official`` a component keeps the split its data set gave it (conflicting official splits
    raise LeakageError); components without one fill the splits that are furthest below their target share.
    """
    records = list(records) if respect_official else [replace(r, split=None) for r in records]
    targets = _targets(ratios, len(records))
    counts = np.zeros(3)
    chosen: dict[int, str] = {}
    free = []
    for group in leakage_groups(records, by):
        official = _official_split(records, group)
        if official is None:
            free.append(group)
        else:
            chosen.update(dict.fromkeys(group, official))
            counts[SPLITS.index(official)] += len(group)
    free.sort(key=lambda group: min(str(records[i].path) for i in group))  # independent of input order
    for position in np.random.default_rng(seed).permutation(len(free)):
        group = free[position]
        deficit = np.where(targets > 0, targets - counts, -np.inf)
        index = int(np.argmax(deficit))
        chosen.update(dict.fromkeys(group, SPLITS[index]))
        counts[index] += len(group)
    return [replace(r, split=chosen[i]) for i, r in enumerate(records)]
