"""Leakage-free splits: by video, by identity, official splits kept, leaks rejected."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from trainer.datasets.records import VideoRecord
from trainer.splits import LeakageError, SplitError, assign_splits, leakage_groups, verify_splits


def rec(name: str, label: str = "real", ids: tuple[str, ...] = (), original: str | None = None,
        split: str | None = None, dataset: str = "D") -> VideoRecord:
    return VideoRecord(Path(f"/data/{name}.mp4"), label, dataset, "", ids,
                       Path(f"/data/{original}.mp4") if original else None, split)


def ffpp_like(n: int) -> list[VideoRecord]:
    reals = [rec(f"{i:03d}", ids=(f"{i:03d}",)) for i in range(n)]
    fakes = [rec(f"{i:03d}_{(i + 1) % n:03d}", "fake", (f"{i:03d}", f"{(i + 1) % n:03d}"), f"{i:03d}")
             for i in range(0, n, 2)]
    return reals + fakes


def split_of(records: list[VideoRecord]) -> dict[str, str]:
    return {r.path.stem: r.split for r in records}


def test_a_fake_joins_the_split_of_its_target_and_source() -> None:
    out = split_of(assign_splits(ffpp_like(20), seed=3))
    for i in range(0, 20, 2):
        target, source = f"{i:03d}", f"{(i + 1) % 20:03d}"
        assert out[f"{target}_{source}"] == out[target] == out[source]


def test_by_video_keeps_a_fake_with_its_original_but_ignores_identities() -> None:
    records = [rec("a", ids=("p",)), rec("b", "fake", original="a"), rec("c", ids=("p",))]
    assert [len(g) for g in leakage_groups(records, by="video")] == [2, 1]
    assert [len(g) for g in leakage_groups(records, by="identity")] == [3]


def test_identities_are_namespaced_by_dataset() -> None:
    records = [rec("a", ids=("id0",), dataset="X"), rec("b", ids=("id0",), dataset="Y")]
    assert len(leakage_groups(records)) == 2


def test_singletons_follow_the_ratios_exactly() -> None:
    out = assign_splits([rec(f"v{i}") for i in range(100)], ratios=(0.8, 0.1, 0.1), seed=0)
    assert Counter(r.split for r in out) == {"train": 80, "val": 10, "test": 10}


def test_a_zero_ratio_split_stays_empty() -> None:
    out = assign_splits([rec(f"v{i}") for i in range(30)], ratios=(0.5, 0.5, 0.0), seed=1)
    assert "test" not in {r.split for r in out}


def test_same_seed_same_split_whatever_the_input_order() -> None:
    records = ffpp_like(40)
    first = split_of(assign_splits(records, seed=7))
    assert split_of(assign_splits(list(reversed(records)), seed=7)) == first
    assert split_of(assign_splits(records, seed=8)) != first


def test_official_splits_are_kept_and_free_components_fill_the_rest() -> None:
    records = [rec("a", ids=("p",), split="test"), rec("b", ids=("p",)), rec("c", ids=("q",), split="val")]
    records += [rec(f"free{i}", ids=(f"f{i}",)) for i in range(10)]
    out = split_of(assign_splits(records, seed=0))
    assert (out["a"], out["b"], out["c"]) == ("test", "test", "val")
    ignored = split_of(assign_splits(records, seed=0, respect_official=False))
    assert ignored["a"] == ignored["b"]


def test_conflicting_official_splits_are_refused() -> None:
    records = [rec("a", ids=("p",), split="train"), rec("b", ids=("p",), split="test")]
    with pytest.raises(LeakageError, match="identity p"):
        assign_splits(records)
    linked = [rec("a", ids=("p",), split="train"), rec("m", ids=("p", "q")), rec("b", ids=("q",), split="test")]
    with pytest.raises(LeakageError, match="linked"):
        assign_splits(linked)


def test_verify_names_the_leaking_video_or_identity() -> None:
    with pytest.raises(LeakageError, match="identity p of D is in both train"):
        verify_splits([rec("a", ids=("p",), split="train"), rec("b", ids=("p",), split="val")])
    with pytest.raises(LeakageError, match="video /data/a.mp4"):
        verify_splits([rec("a", split="train"), rec("a", split="test")])
    with pytest.raises(LeakageError, match="video /data/a.mp4"):
        verify_splits([rec("a", split="train"), rec("b", "fake", original="a", split="test")])
    verify_splits([rec("a", ids=("p",), split="train"), rec("b", ids=("p",), split="val")], by="video")
    with pytest.raises(SplitError, match="no split"):
        verify_splits([rec("a")])


def test_bad_ratios_and_grouping_are_refused() -> None:
    with pytest.raises(SplitError, match="ratios"):
        assign_splits([rec("a")], ratios=(1.0, -0.5, 0.5))
    with pytest.raises(SplitError, match="ratios"):
        assign_splits([rec("a")], ratios=(0, 0, 0))
    with pytest.raises(SplitError, match="by must be"):
        assign_splits([rec("a")], by="person")


def random_identity_graph(rng: np.random.Generator) -> list[VideoRecord]:
    n_people = int(rng.integers(5, 40))
    records = []
    for v in range(int(rng.integers(10, 80))):
        ids = tuple(f"p{i}" for i in rng.choice(n_people, size=int(rng.integers(0, 3)), replace=False))
        original = f"v{rng.integers(0, v)}" if v and rng.random() < 0.3 else None
        records.append(rec(f"v{v}", "fake" if original else "real", ids, original))
    return records


@pytest.mark.parametrize("seed", range(25))
def test_no_video_or_identity_is_in_two_splits_on_random_graphs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    out = assign_splits(random_identity_graph(rng), ratios=tuple(rng.dirichlet([1, 1, 1])), seed=seed)
    splits_of_key: dict[str, set[str]] = {}
    for r in out:
        keys = [str(r.path), *([str(r.original)] if r.original else []), *r.identities]
        for key in keys:
            splits_of_key.setdefault(key, set()).add(r.split)
    assert all(len(s) == 1 for s in splits_of_key.values())
    verify_splits(out)
