"""The report's suggested file name: case number, evidence name and date, safe on every file system."""
from __future__ import annotations

from datetime import date
from pathlib import Path

from dfdesk.services import cases
from dfdesk.services.report_names import suggested_name_for, suggested_report_name
from tests.fixtures.analyses import make_saved_analysis

DAY = date(2025, 3, 1)


def test_case_number_evidence_and_date_make_the_name():
    assert suggested_report_name("LAB-2024/117", "clip 004.mp4", DAY) == "LAB-2024_117-clip_004-2025-03-01-report.pdf"
    assert suggested_report_name(None, "clip.mp4", DAY) == "clip-2025-03-01-report.pdf"


def test_unsafe_and_long_values_are_reduced():
    name = suggested_report_name("../../etc/passwd\x00:*?", "A" * 500 + ".mov", DAY)
    assert name == "etc_passwd-" + "A" * 60 + "-2025-03-01-report.pdf"
    assert "/" not in name and "\\" not in name and len(name) < 130
    assert suggested_report_name("CON", ".hidden", DAY) == "_CON-hidden-2025-03-01-report.pdf"
    assert suggested_report_name("Дело 5", "深度.mp4", DAY) == "Дело_5-深度-2025-03-01-report.pdf"


def test_the_name_of_a_saved_analysis(db, clip_dir: Path):
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice", "HF 17")
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    assert suggested_name_for(db, analysis_id, DAY) == "HF_17-face-2025-03-01-report.pdf"
    assert suggested_name_for(db, 999, DAY) == "analysis-999.pdf"
