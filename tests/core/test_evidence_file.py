"""One descriptor for hashing and decoding: what it reads, and how a change to the file shows (issue 21, point 6)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.evidence_file import EvidenceChanged, OpenedEvidence
from dfdesk.core.faces import FaceSettings
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import VideoError, probe_video, sha256_file
from dfdesk.core.video import VideoReader

SPEC = CropSpec("face", 8, 0.0, "rgb")
SETTINGS = FaceSettings(device="cpu")


@pytest.fixture
def evidence(tmp_path: Path, clip_dir: Path) -> Path:
    return Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "evidence.mp4"))


def test_the_hash_and_the_decode_read_the_file_opened_not_the_path(evidence: Path, clip_dir: Path) -> None:
    with VideoReader(evidence, probe_video(evidence)) as reader:
        expected = [f.image for f in reader.frames([0, 10])]
    with OpenedEvidence(evidence) as opened:
        digest = opened.hash()
        os.replace(shutil.copy(clip_dir / "noface.mp4", evidence.parent / "other.mp4"), evidence)  # renamed over it
        info = probe_video(opened)
        with VideoReader(opened, info) as reader:
            images = [f.image for f in reader.frames([0, 10])]
        opened.check_unchanged()  # the descriptor's file was not touched
    assert digest == sha256_file(clip_dir / "face.mp4") != sha256_file(evidence)
    assert info.frame_count == 20 and all(np.array_equal(a, b) for a, b in zip(images, expected))


def test_a_write_in_place_after_the_hash_is_named_with_both_hashes(evidence: Path) -> None:
    with OpenedEvidence(evidence) as opened:
        before = opened.hash()
        with evidence.open("r+b") as handle:
            handle.seek(-16, os.SEEK_END)
            handle.write(bytes(16))
        with pytest.raises(EvidenceChanged) as changed:
            opened.check_unchanged()
    assert before in str(changed.value) and sha256_file(evidence) in str(changed.value)


def test_a_pipe_or_a_folder_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(VideoError, match="not a regular file"):
            OpenedEvidence(path)


def test_a_cache_entry_records_its_source_and_is_not_served_under_another_hash(tmp_path: Path) -> None:
    cache = CropCache(tmp_path / "cache")
    crops = {(0, 0): np.full((8, 8, 3), 7, np.uint8)}
    cache.save_crops("a" * 64, [0], SETTINGS, SPEC, crops, stream=1, made_from=(1, 2, 3, 4))
    entry = next((tmp_path / "cache" / ("a" * 64)).glob("*.npz"))
    with np.load(entry) as stored:
        assert str(stored["source_sha256"]) == "a" * 64 and list(stored["source_identity"]) == [1, 2, 3, 4]
    assert cache.load_crops("a" * 64, [0], SETTINGS, SPEC, stream=0) is None  # another stream: another entry
    assert cache.load_crops("a" * 64, [0], SETTINGS, SPEC, stream=1)[(0, 0)].max() == 7
    moved = tmp_path / "cache" / ("b" * 64) / entry.name
    moved.parent.mkdir()
    shutil.copy(entry, moved)  # an entry put under another evidence's hash
    assert cache.load_crops("b" * 64, [0], SETTINGS, SPEC, stream=1) is None and not moved.exists()


def test_a_path_whose_bytes_no_longer_have_the_given_hash_is_not_cached(evidence: Path, tmp_path: Path) -> None:
    stale = sha256_file(evidence)
    with evidence.open("r+b") as handle:
        handle.seek(-16, os.SEEK_END)
        handle.write(bytes(16))
    cache = CropCache(tmp_path / "cache")
    with pytest.raises(EvidenceChanged, match=stale):
        run_to_end(extract_faces(evidence, probe_video(evidence), [0], SETTINGS, [SPEC], sha256=stale, cache=cache))
    assert not (tmp_path / "cache").exists()
