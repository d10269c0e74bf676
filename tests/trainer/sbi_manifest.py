"""A small MANIFEST.csv folder in the layout of ../shared/data/train, made of generated clips and a photo.

Four people with a clip each (the astronaut face at three sizes, and one clip without a face), one photo without
an identity whose note names one of them, and a manifest row whose file is missing.
"""
from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from tests.fixtures.clips import face_frame, make_noface_clip, write_clip

COLUMNS = ("file", "repo", "commit", "path_in_repo", "sha256", "format", "identity", "note", "license_terms")
FRAMES = 8
CLIP_PEOPLE = {"Ann_A": 120, "Bob_B": 130, "Cid_C": 140}  # identity -> face side in a 320x240 frame


def face_clip(path: Path, side: int) -> Path:
    """The face drifting slowly, so the sampled frames form one track."""
    return write_clip(path, [face_frame(320, 240, i, 200, face_side=side) for i in range(FRAMES)])


def make_manifest_folder(root: Path) -> Path:
    (root / "real" / "clips").mkdir(parents=True)
    (root / "real" / "photos").mkdir(parents=True)
    rows = []
    for person, side in CLIP_PEOPLE.items():
        name = f"real/clips/{person.lower()}.mp4"
        face_clip(root / name, side)
        rows.append({"file": name, "repo": f"example/{person.lower()}", "identity": person, "note": "talking"})
    make_noface_clip(root / "real" / "clips" / "empty.mp4")
    rows.append({"file": "real/clips/empty.mp4", "repo": "example/empty", "identity": "Dan_D", "note": "no face"})
    Image.fromarray(face_frame(300, 300, 0, 1, face_side=200)).save(root / "real" / "photos" / "cid.png")
    rows.append({"file": "real/photos/cid.png", "repo": "example/photos", "identity": "", "note": "Cid C photo"})
    rows.append({"file": "real/clips/gone.mp4", "repo": "example/gone", "identity": "Eve_E", "note": "missing"})
    with (root / "MANIFEST.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return root
