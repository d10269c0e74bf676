"""An analysis's stored request (settings) and outcome (summary) carry the record schema they were written in;
records of an older dfdesk (no version stored) still read, a newer one is refused by name everywhere it is read:
results, the report, a resume, the desktop (real analyses of the shipped MesoNet on a real clip)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, resume_analysis, run_analysis
from dfdesk.services.analysis_store import RECORD_SCHEMA, SCHEMA_KEY
from dfdesk.services.ingest import ingest_video
from dfdesk.services.report import ReportError, export_report
from dfdesk.services.results import ResultNotFound, load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis


@pytest.fixture
def analysis_id(db: Database, clip_dir: Path) -> int:
    intake = ingest_video(db, "Schema", clip_dir / "face.mp4", "alice")
    request = AnalysisRequest(models=("meso4_df",), frames=4, heatmaps_per_detector=0)
    return run_to_end(run_analysis(db, intake.evidence_id, request, "alice"))


def _rewrite(db: Database, analysis_id: int, part: str, version, status: str | None = None) -> None:
    with db.unit_of_work() as session:
        row = session.get(Analysis, analysis_id)
        record = dict(getattr(row, part))
        if version is None:
            record.pop(SCHEMA_KEY)
        else:
            record[SCHEMA_KEY] = version
        setattr(row, part, record)
        if status:
            row.status = status


def test_settings_and_summary_are_stored_with_the_schema(db: Database, analysis_id: int) -> None:
    with db.unit_of_work() as session:
        row = session.get(Analysis, analysis_id)
        assert row.settings[SCHEMA_KEY] == RECORD_SCHEMA == row.summary[SCHEMA_KEY] == 1


def test_a_record_saved_before_the_version_existed_still_reads(db: Database, analysis_id: int) -> None:
    _rewrite(db, analysis_id, "settings", None)
    _rewrite(db, analysis_id, "summary", None)
    with db.unit_of_work() as session:
        assert load_analysis(session, analysis_id).verdict is not None


@pytest.mark.parametrize("part", ["settings", "summary"])
@pytest.mark.parametrize("version", [RECORD_SCHEMA + 1, "1", 0])
def test_a_record_of_another_shape_is_refused_by_name(db: Database, analysis_id: int, part: str, version) -> None:
    _rewrite(db, analysis_id, part, version)
    with db.unit_of_work() as session, pytest.raises(ResultNotFound, match=f"record schema {version!r}"):
        load_analysis(session, analysis_id)


def test_the_report_refuses_a_newer_record(db: Database, analysis_id: int, tmp_path: Path) -> None:
    _rewrite(db, analysis_id, "summary", RECORD_SCHEMA + 1)
    with pytest.raises(ReportError, match="record schema 2"):
        export_report(db, analysis_id, tmp_path / "r.pdf", "alice")
    assert not (tmp_path / "r.pdf").exists()


def test_a_newer_interrupted_analysis_is_not_resumed(db: Database, analysis_id: int) -> None:
    _rewrite(db, analysis_id, "settings", RECORD_SCHEMA + 1, status="interrupted")
    with pytest.raises(AnalysisError, match="cannot be resumed: .*record schema 2"):
        run_to_end(resume_analysis(db, analysis_id, "alice"))
    with db.unit_of_work() as session:
        assert session.get(Analysis, analysis_id).status == "interrupted"
