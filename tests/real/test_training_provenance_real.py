"""ship_sbi's training-file record of ../shared/data/train: the hashes it computes from the files are the ones
MANIFEST.csv publishes, so an analysis of a training clip is recognised by hash."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trainer import ship_sbi
from trainer.install import training_file_entries

pytestmark = pytest.mark.real


def test_the_recorded_hashes_of_training_photos_match_the_manifest(shared_data: Path):
    root = shared_data / "train"
    if not (root / "MANIFEST.csv").is_file():
        pytest.skip("../shared/data/train/MANIFEST.csv is absent")
    with (root / "MANIFEST.csv").open(newline="", encoding="utf-8") as handle:
        published = {row["file"]: row["sha256"] for row in csv.DictReader(handle)}
    listed = ship_sbi.manifest_files(root)
    assert len(listed) == len(published)
    photos = sorted((p for p, _ in listed if "/photos/" in p.as_posix() and p.is_file()),
                    key=lambda p: p.stat().st_size)[:5]  # small files: the rule, not the whole set, is tested
    assert photos, "no training photos found"
    for entry, photo in zip(training_file_entries((p, None) for p in photos), photos, strict=True):
        assert entry["sha256"] == published[photo.relative_to(root).as_posix()]
