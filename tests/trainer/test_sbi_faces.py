"""Real faces for SBI training (trainer/sbi_faces.py): the manifest, the split by person, the one-time extraction."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.crops import CropSpec, square_box
from dfdesk.core.faces import FaceSettings
from dfdesk.core.types import FaceDetection
from tests.trainer.sbi_manifest import CLIP_PEOPLE, make_manifest_folder
from trainer import sbi_faces
from trainer.sbi_faces import CLIP, PHOTO, TRAIN, VAL, SbiDataError, read_manifest, split_people

SPEC = CropSpec("face", 96, 0.3, "rgb")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return make_manifest_folder(tmp_path_factory.mktemp("manifest"))


@pytest.fixture(scope="module")
def extracted(manifest, tmp_path_factory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("faces")
    files = read_manifest(manifest)
    progress = list(sbi_faces.extract_all(files, folder, SPEC, 3, FaceSettings(device="cpu")))
    return folder, files, progress


def test_manifest_rows_become_source_files(manifest) -> None:
    files = read_manifest(manifest)
    assert [f.name for f in files] == [f"real/clips/{p.lower()}.mp4" for p in CLIP_PEOPLE] + [
        "real/clips/empty.mp4", "real/photos/cid.png"]  # the missing file is left out
    photo = files[-1]
    assert photo.kind == PHOTO and photo.identity == "photo:real/photos/cid.png" and photo.path.is_file()
    assert {f.kind for f in files[:-1]} == {CLIP}
    assert [f.name for f in read_manifest(manifest, photos=False)][-1] == "real/clips/empty.mp4"


def test_a_folder_without_manifest_or_clips_is_refused(tmp_path) -> None:
    with pytest.raises(SbiDataError, match="MANIFEST.csv"):
        read_manifest(tmp_path)
    (tmp_path / "MANIFEST.csv").write_text("file,repo,identity,note\nreal/photos/x.png,r,,n\n")
    with pytest.raises(SbiDataError, match="no clip"):
        read_manifest(tmp_path)


def test_people_are_held_out_whole_and_photo_people_always_train(manifest) -> None:
    files = read_manifest(manifest)
    split = split_people(files, val_fraction=0.5, seed=0)
    held_out = {p for p, s in split.items() if s == VAL}
    assert len(held_out) == 2 and held_out <= {"Ann_A", "Bob_B", "Dan_D"}
    assert split["Cid_C"] == TRAIN  # named in the photo's note ("Cid C photo")
    assert split["photo:real/photos/cid.png"] == TRAIN
    assert split_people(files, 0.5, seed=0) == split  # the same seed holds out the same people
    assert sum(s == VAL for s in split_people(files, 0.01, seed=0).values()) == 1  # at least one person


def test_crop_points_follow_the_crop_geometry() -> None:
    detection = FaceDetection((100.0, 50.0, 200.0, 170.0), 0.99, ((0.0, 0.0),) * 5)
    left, top, right, bottom = square_box(detection, SPEC.margin)
    corners = np.array([[left, top], [right, bottom], [150.0, 110.0]])
    points = sbi_faces.crop_points(corners, detection, SPEC)
    np.testing.assert_allclose(points, [[0, 0], [SPEC.size, SPEC.size], [SPEC.size / 2, SPEC.size / 2]], atol=0.5)


def test_extraction_keeps_crops_and_landmarks_per_file(extracted) -> None:
    folder, files, progress = extracted
    assert [p.done for p in progress] == [1, 2, 3, 4, 5] and progress[-1].total == 5
    faces = {p.file: p.faces for p in progress}
    assert faces["real/clips/empty.mp4"] == 0 and faces["real/photos/cid.png"] == 1
    assert all(faces[f"real/clips/{p.lower()}.mp4"] == 3 for p in CLIP_PEOPLE)
    bank = sbi_faces.load_bank(files, folder)
    assert bank.crops.shape == (10, 96, 96, 3) and bank.crops.dtype == np.uint8
    assert bank.landmarks.shape == (10, 68, 2)
    assert np.all((bank.landmarks > 0) & (bank.landmarks < 96))  # on the face, inside the crop
    assert bank.files.count("real/photos/cid.png") == 1


def test_extraction_resumes_without_redoing_files(extracted, monkeypatch) -> None:
    folder, files, _ = extracted
    monkeypatch.setattr(sbi_faces, "clip_faces", lambda *a, **k: pytest.fail("a finished file was extracted again"))
    monkeypatch.setattr(sbi_faces, "photo_faces", lambda *a, **k: pytest.fail("a finished file was extracted again"))
    assert len(list(sbi_faces.extract_all(files, folder, SPEC, 3, FaceSettings(device="cpu")))) == 5


def test_bank_spreads_a_capped_number_of_faces_and_describe_counts(extracted) -> None:
    folder, files, _ = extracted
    bank = sbi_faces.load_bank(files[:1], folder, per_file=2)
    assert len(bank) == 2
    assert sbi_faces.spread(32, 8).tolist() == [0, 4, 9, 13, 18, 22, 27, 31]
    with pytest.raises(SbiDataError, match="no face"):
        sbi_faces.load_bank([f for f in files if f.name.endswith("empty.mp4")], folder)
    split = split_people(files, 0.5, seed=0)
    table = sbi_faces.describe(files, split, folder)
    assert table[TRAIN]["photos"] == 1 and table[TRAIN]["faces"] + table[VAL]["faces"] == 10
    assert table[VAL]["people"] == 2


def test_faces_key_changes_with_what_changes_the_faces() -> None:
    settings = FaceSettings(device="cpu")
    key = sbi_faces.faces_key(SPEC, settings, 32)
    assert key.startswith("96px-m0.3-32f-")
    assert sbi_faces.faces_key(SPEC, FaceSettings(device="cuda"), 32) == key  # the device does not change faces
    assert sbi_faces.faces_key(SPEC, settings, 16) != key
    assert sbi_faces.faces_key(CropSpec("face", 96, 0.2, "rgb"), settings, 32) != key
