"""Data sets kept as frame folders (DeepfakeBench, the seed lists) give face clips like videos do."""
from __future__ import annotations

from pathlib import Path

from PIL import Image

from dfdesk.core.crop_cache import CropCache
from dfdesk.core.faces import FaceSettings
from dfdesk.detectors.cards import load_card
from dfdesk.paths import bundled_models_dir
from tests.fixtures.clips import face_frame
from trainer.clips import FaceClip, extract_clips
from trainer.datasets import load_dataset


def frame_folder(folder: Path, n_frames: int = 8) -> Path:
    folder.mkdir(parents=True)
    for i in range(n_frames):
        Image.fromarray(face_frame(320, 240, i, 200)).save(folder / f"frame_{i:03d}.png")
    return folder


def test_frame_folders_of_a_folders_data_set_become_face_clips(tmp_path: Path) -> None:
    frame_folder(tmp_path / "set" / "real" / "video_a")
    frame_folder(tmp_path / "set" / "fake" / "deepfakes" / "video_b")
    (tmp_path / "set" / "fake" / "broken").mkdir()
    (tmp_path / "set" / "fake" / "broken" / "0.png").write_bytes(b"not a png")
    report = load_dataset("folders", tmp_path / "set")
    assert sorted(r.is_frame_folder for r in report.records) == [True, True, True]
    spec = load_card(bundled_models_dir() / "meso4_df").input
    spec.frames_per_clip = 2
    problems: list = []
    cache = CropCache(tmp_path / "cache")
    out = list(extract_clips(report.records, spec, max_clips=2, settings=FaceSettings(device="cpu"), cache=cache,
                             problems=problems))
    clips = [item for item in out if isinstance(item, FaceClip)]
    assert sorted({(Path(c.video).name, c.target) for c in clips}) == [("video_a", 0), ("video_b", 1)]
    assert all(c.frames.shape == (2, 256, 256, 3) for c in clips)
    assert [(Path(p.path).name, p.kind) for p in problems] == [("broken", "unreadable")]
    assert any((tmp_path / "cache").rglob("crops-*.npz"))  # cached under the folder's own SHA-256
