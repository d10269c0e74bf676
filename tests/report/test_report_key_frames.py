"""The key frames a report prints are the frames the analysis scored, with their provenance printed.

A real analysis (generated clip, real MTCNN, shipped MesoNet) fills the crop cache; the report recuts each key
frame's crop from the frames it decodes and compares.  A cache entry altered after the analysis stands for a decoder
that returned other pixels: the export must stop and write nothing.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from dfdesk import paths
from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.services.key_frames import CHECKED_BY_CROP, CHECKED_BY_SEQUENCE
from dfdesk.services.report import ReportError, export_report
from dfdesk.store.database import Database
from dfdesk.store.tables import Report
from tests.report.conftest import Saved, pdf_text


def _analysed(db: Database, clip_dir: Path, tmp_path: Path) -> int:
    clip = tmp_path / "evidence.mp4"
    shutil.copyfile(clip_dir / "face.mp4", clip)
    intake = ingest_video(db, "Case K", clip, "alice")
    request = AnalysisRequest(models=("meso4_df",), frames=6, sampling="random", seed=3, heatmaps_per_detector=3)
    return run_to_end(run_analysis(db, intake.evidence_id, request, "alice"), lambda _: None)


def _crop_files() -> list[Path]:
    return sorted((paths.cache_dir() / "crops").glob("*/crops-*.npz"))


def test_key_frames_are_checked_against_the_scored_crops(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    analysis_id = _analysed(db, clip_dir, tmp_path)
    result = export_report(db, analysis_id, tmp_path / "report.pdf", "bob")
    text = " ".join(pdf_text(result.path)).replace("\n", " ")
    assert "decoded pts" in text
    assert CHECKED_BY_CROP in text


def test_without_the_cache_key_frames_are_checked_by_a_sequential_decode(db: Database, clip_dir: Path,
                                                                          tmp_path: Path) -> None:
    analysis_id = _analysed(db, clip_dir, tmp_path)
    shutil.rmtree(paths.cache_dir() / "crops")
    result = export_report(db, analysis_id, tmp_path / "report.pdf", "bob")
    text = " ".join(pdf_text(result.path)).replace("\n", " ")
    assert CHECKED_BY_SEQUENCE in text and CHECKED_BY_CROP not in text


def test_pixels_that_differ_from_the_scored_crops_stop_the_export(db: Database, clip_dir: Path,
                                                                  tmp_path: Path) -> None:
    analysis_id = _analysed(db, clip_dir, tmp_path)
    files = _crop_files()
    assert files, "the analysis cached the crops it scored"
    for path in files:  # what the analysis scored is no longer what the evidence decodes to
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        arrays["crops"] = (255 - arrays["crops"]).astype(np.uint8)
        np.savez(path, **arrays)
    target = tmp_path / "report.pdf"
    with pytest.raises(ReportError, match="other pixels"):
        export_report(db, analysis_id, target, "bob")
    assert not target.exists() and not list(tmp_path.glob(".report.*"))
    with db.unit_of_work() as session:
        assert session.scalars(select(Report)).first() is None


def test_a_saved_analysis_without_crop_records_prints_its_frames_checked_by_sequence(saved: Saved,
                                                                                     tmp_path: Path) -> None:
    result = export_report(saved.db, saved.analysis_id, tmp_path / "report.pdf", "bob")
    text = " ".join(pdf_text(result.path)).replace("\n", " ")
    assert "decoded pts" in text and CHECKED_BY_SEQUENCE in text
