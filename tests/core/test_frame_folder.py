"""A folder of still frames read like a video: probe, hash, frames by index, and the face pipeline over it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceDetector, FaceSettings
from dfdesk.core.frame_folder import FrameFolderReader, probe_frame_folder, sha256_frame_folder
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import VideoError
from tests.fixtures import clips

N_FRAMES = 12


def write_frames(folder: Path, n_frames: int = N_FRAMES) -> list[np.ndarray]:
    """Frames 1.png ... 12.png (unpadded numbers: 10.png must come after 9.png) and a stray text file."""
    folder.mkdir(parents=True, exist_ok=True)
    images = [clips.face_frame(320, 240, i, n_frames) for i in range(n_frames)]
    for number, image in enumerate(images, start=1):
        Image.fromarray(image).save(folder / f"{number}.png")
    (folder / "notes.txt").write_text("not a frame")
    return images


def test_probe_and_frames_follow_the_natural_order_of_the_files(tmp_path: Path) -> None:
    images = write_frames(tmp_path / "video")
    info = probe_frame_folder(tmp_path / "video")
    assert (info.width, info.height, info.frame_count, info.container) == (320, 240, N_FRAMES, "frame folder")
    with FrameFolderReader(tmp_path / "video", info) as reader:
        frames = list(reader.frames([11, 0, 9]))
    assert [f.index for f in frames] == [0, 9, 11]
    assert all(np.array_equal(f.image, images[f.index]) for f in frames)  # 10.png is frame 9, not frame 1
    assert frames[1].time_s == pytest.approx(9 / 25)


def test_the_hash_changes_when_a_frame_changes_or_is_renamed(tmp_path: Path) -> None:
    write_frames(tmp_path / "video")
    first = sha256_frame_folder(tmp_path / "video")
    assert sha256_frame_folder(tmp_path / "video") == first
    (tmp_path / "video" / "12.png").rename(tmp_path / "video" / "13.png")
    renamed = sha256_frame_folder(tmp_path / "video")
    Image.fromarray(np.zeros((240, 320, 3), np.uint8)).save(tmp_path / "video" / "13.png")
    assert len({first, renamed, sha256_frame_folder(tmp_path / "video")}) == 3


def test_an_unreadable_frame_is_skipped_with_a_warning_and_an_empty_folder_refused(tmp_path: Path) -> None:
    write_frames(tmp_path / "video")
    (tmp_path / "video" / "5.png").write_bytes(b"truncated")
    info = probe_frame_folder(tmp_path / "video")
    with FrameFolderReader(tmp_path / "video", info) as reader:
        assert [f.index for f in reader.frames([3, 4, 5])] == [3, 5]
        assert "frame 4 (5.png) could not be read" in reader.warnings[0]
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="holds no image files"):
        probe_frame_folder(tmp_path / "empty")


def test_the_face_pipeline_reads_a_frame_folder_like_a_video(tmp_path: Path) -> None:
    write_frames(tmp_path / "video")
    info = probe_frame_folder(tmp_path / "video")
    spec = CropSpec("face", 64, 0.3, "rgb")
    faces = run_to_end(extract_faces(tmp_path / "video", info, range(0, N_FRAMES, 2), FaceSettings(device="cpu"),
                                     [spec], detector=FaceDetector(FaceSettings(device="cpu"))))
    assert all(frame.faces for frame in faces.frames) and len(faces.frames) == N_FRAMES // 2
    assert faces.main_track is not None
    assert sum(len(faces.track_crops(spec, t.track_id)) for t in faces.tracks) == N_FRAMES // 2  # a crop per face
