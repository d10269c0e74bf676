"""Reports over a real saved analysis (synthetic scores, real intake, real clip) and helpers to read them."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from dfdesk.services import cases
from dfdesk.services.notes import add_note
from dfdesk.store.database import Database
from tests.fixtures.analyses import make_saved_analysis

CASE_NAME = "Müller – Ελληνικά – Кирилл – 深度伪造 – 사건 & <Ко>"
CASE_NUMBER = "LAB-2024/117"
NOTE_TEXT = "Mouth region flickers at 0.4 s; lighting on the left cheek is inconsistent."


@dataclass(frozen=True)
class Saved:
    db: Database
    analysis_id: int
    clip: Path  # the evidence file (a private copy: tests may alter it)


@pytest.fixture
def saved(db: Database, clip_dir: Path, tmp_path: Path) -> Saved:
    clip = tmp_path / "evidence" / "face.mp4"
    clip.parent.mkdir()
    shutil.copyfile(clip_dir / "face.mp4", clip)
    with db.unit_of_work() as session:
        cases.create_case(session, CASE_NAME, "alice", CASE_NUMBER)
    analysis_id = make_saved_analysis(db, clip, case=CASE_NAME)
    with db.unit_of_work() as session:
        add_note(session, 1, "alice", NOTE_TEXT, "agree", analysis_id)
    return Saved(db, analysis_id, clip)


def pdf_text(path: Path) -> list[str]:
    """The text of every page, as pypdf extracts it."""
    return [page.extract_text() for page in PdfReader(path).pages]


def render_pages(pdf: Path, folder: Path, dpi: int = 40) -> list[np.ndarray]:
    """Every page rendered by poppler's pdftoppm, as grey-level arrays."""
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), str(folder / "page")], check=True)
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("page-*.png"))]
