"""The adapters and splitter on the official list files in ../shared/data/lists (research-only, read in place)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdesk.paths import shared_data_dir
from trainer.datasets import load_dataset
from trainer.splits import assign_splits, verify_splits

DATA = shared_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="../shared/data (real labelled lists) is not present")


@pytest.fixture(scope="module")
def lists() -> Path:
    return DATA / "lists"


def test_celebdf_official_test_list(lists: Path, tmp_path: Path) -> None:
    report = load_dataset("celebdf", tmp_path, list_file=lists / "celebdf_v2_List_of_testing_videos.txt",
                          check_files=False)
    assert report.problems == ()
    assert report.counts_by_split() == {"test": {"real": 178, "fake": 340}}
    for record in report.records:  # 1 = real in the file: the folder names must agree with dfdesk's labels
        assert record.label == ("fake" if record.path.parent.name == "Celeb-synthesis" else "real")
        expected_ids = 2 if record.label == "fake" else (0 if record.path.parent.name == "YouTube-real" else 1)
        assert len(record.identities) == expected_ids


def build_ffpp_tree(root: Path, lists: Path) -> None:
    """Empty placeholder files named after every id in the official splits (no real data is copied)."""
    originals = root / "original_sequences/youtube/c23/videos"
    fakes = root / "manipulated_sequences/Deepfakes/c23/videos"
    originals.mkdir(parents=True)
    fakes.mkdir(parents=True)
    for split in ("train", "val", "test"):
        for a, b in json.loads((lists / f"ffpp_split_{split}.json").read_text()):
            for name in (a, b):
                (originals / f"{name}.mp4").touch()
            for name in (f"{a}_{b}", f"{b}_{a}"):
                (fakes / f"{name}.mp4").touch()


def test_ffpp_official_splits_share_no_sequence_id(lists: Path, tmp_path: Path) -> None:
    build_ffpp_tree(tmp_path, lists)
    report = load_dataset("ffpp", tmp_path, splits_dir=lists)
    assert report.problems == ()
    assert report.counts_by_split() == {"train": {"real": 720, "fake": 720}, "val": {"real": 140, "fake": 140},
                                        "test": {"real": 140, "fake": 140}}
    verify_splits(report.records, by="identity")
    kept = assign_splits(report.records, seed=0)
    assert [r.split for r in kept] == [r.split for r in report.records]
