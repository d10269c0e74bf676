"""The crop cache stays within its size limit, deleting the least recently used entries first."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.crop_cache import DEFAULT_MAX_BYTES, CropCache, max_bytes_from_environment
from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings

SPEC = CropSpec("face", 64, 0.3, "rgb")
SETTINGS = FaceSettings()


def crops(seed: int) -> dict[tuple[int, int], np.ndarray]:
    """Ten incompressible 64 px crops (about 123 kB stored)."""
    rng = np.random.default_rng(seed)
    return {(i, 0): rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for i in range(10)}


def entry_size(tmp_path: Path) -> int:
    probe = CropCache(tmp_path / "probe", max_bytes=10**12)
    probe.save_crops("0" * 64, [0], SETTINGS, SPEC, crops(0))
    return next((tmp_path / "probe").glob("*/*.npz")).stat().st_size


def age(cache: CropCache, sha: str, seconds_ago: float) -> None:
    for path in (cache.root / sha).glob("*.npz"):
        stamp = path.stat().st_mtime - seconds_ago
        os.utime(path, (stamp, stamp))


def test_least_recently_used_entries_go_first_and_a_read_counts_as_use(tmp_path: Path) -> None:
    size = entry_size(tmp_path)
    cache = CropCache(tmp_path / "cache", max_bytes=3 * size + size // 2)  # room for three entries
    for n, sha in enumerate("abc"):
        cache.save_crops(sha * 64, [0], SETTINGS, SPEC, crops(n))
        age(cache, sha * 64, 100 - 10 * n)  # a oldest, then b, then c
    assert cache.load_crops("a" * 64, [0], SETTINGS, SPEC) is not None  # a is used again: now the newest
    cache.save_crops("d" * 64, [0], SETTINGS, SPEC, crops(3))
    assert sorted(p.name for p in cache.root.iterdir()) == sorted(s * 64 for s in "acd")  # b pruned, folder too
    assert cache.load_crops("b" * 64, [0], SETTINGS, SPEC) is None
    np.testing.assert_array_equal(cache.load_crops("d" * 64, [0], SETTINGS, SPEC)[(3, 0)], crops(3)[(3, 0)])


def test_the_entry_just_written_is_kept_even_over_the_limit(tmp_path: Path) -> None:
    cache = CropCache(tmp_path / "cache", max_bytes=0)
    cache.save_crops("a" * 64, [0], SETTINGS, SPEC, crops(0))
    cache.save_crops("b" * 64, [0], SETTINGS, SPEC, crops(1))
    assert [p.name for p in cache.root.iterdir()] == ["b" * 64]
    assert cache.load_crops("b" * 64, [0], SETTINGS, SPEC) is not None


@pytest.mark.parametrize(("value", "expected"), [("", DEFAULT_MAX_BYTES), ("2", 2 * 2**30), ("0.5", 2**29),
                                                  ("0", 0), ("lots", DEFAULT_MAX_BYTES)])
def test_the_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("DFDESK_CROP_CACHE_GB", value)
    assert max_bytes_from_environment() == expected
