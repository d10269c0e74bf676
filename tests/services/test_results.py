from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.services import audit
from dfdesk.services.notes import NoteError, add_note
from dfdesk.services.results import ResultNotFound, load_analysis
from dfdesk.store.database import Database
from tests.fixtures.analyses import make_saved_analysis


def test_saved_outcome_reads_back(db: Database, clip_dir: Path) -> None:
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.status == "done" and view.verdict.label == "fake" and view.verdict.band == (0.62, 0.79)
    assert [d.name for d in view.detectors] == ["meso4_df", "lipforensics_ta"]
    assert view.detectors[0].track_probabilities == {0: 0.71}
    assert set(view.points) == {"meso4_df", "fused"}
    frames = [p.frame_index for p in view.points["fused"]]
    assert frames == sorted(frames) and len(frames) == view.frames_sampled
    assert view.tracks[0].is_main and view.tracks[0].frame_indices == tuple(frames)
    assert Path(view.heatmaps[0].path).is_file()
    assert view.evidence.file_name == "face.mp4" and view.evidence.case_name == "Case A"


def test_unknown_analysis(db: Database) -> None:
    with pytest.raises(ResultNotFound), db.unit_of_work() as session:
        load_analysis(session, 42)


def test_analyst_conclusion_is_saved_and_audited(db: Database, clip_dir: Path) -> None:
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    with db.unit_of_work() as session:
        evidence_id = load_analysis(session, analysis_id).evidence.id
        add_note(session, evidence_id, "bob", "Blending seam visible at the jaw line.", "agree", analysis_id)
        with pytest.raises(NoteError):
            add_note(session, evidence_id, "bob", "x", "maybe")
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
        assert [(n.author, n.conclusion) for n in view.notes] == [("bob", "agree")]
        event = audit.events_for(session, evidence_id=evidence_id)[-1]
        assert event.action == "verdict.analyst" and event.actor == "bob"
        assert audit.verify(session) == []
