"""Each face track's share of the sampled frames, as the read model, the PDF report and the GUI show it."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dfdesk.core.face_presence import TrackPresence
from dfdesk.core.sampling import plan_sampling
from dfdesk.services.report_layout import ReportContent, limitation_lines, track_block
from dfdesk.services.results import load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures.analyses import make_saved_analysis


def saved_with_plan(db: Database, clip: Path, frames: int) -> int:
    """The fixture's analysis (one track on every 2nd frame of a 20-frame clip) with a recorded plan of ``frames``."""
    analysis_id = make_saved_analysis(db, clip)
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        plan = plan_sampling(20, "every", step=20 // frames)
        analysis.settings = {**analysis.settings, "plans": {"meso4_df": plan.to_dict()}}
    return analysis_id


def test_the_share_of_sampled_frames_is_read_from_the_recorded_plans(db: Database, clip_dir: Path) -> None:
    analysis_id = saved_with_plan(db, clip_dir / "face.mp4", frames=20)  # every frame sampled, face on 10
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    assert view.tracks[0].frame_indices == tuple(range(0, 20, 2))
    assert view.face_presence == {0: TrackPresence(20, 10)} and view.main_presence.share == 0.5


def test_an_analysis_without_recorded_plans_has_no_share(db: Database, clip_dir: Path) -> None:
    with db.unit_of_work() as session:
        view = load_analysis(session, make_saved_analysis(db, clip_dir / "face.mp4"))
    assert view.face_presence == {} and view.main_presence is None


def test_the_report_prints_each_tracks_share_and_the_main_faces_in_its_limitations(db: Database,
                                                                                  clip_dir: Path) -> None:
    with db.unit_of_work() as session:
        view = load_analysis(session, saved_with_plan(db, clip_dir / "face.mp4", frames=20))
    cells = [[cell.getPlainText() if hasattr(cell, "getPlainText") else str(cell) for cell in row]
             for row in track_block(view)[1]._cellvalues]
    assert cells[0][2] == "Face in sampled" and cells[1][2] == "10/20 (50 %)"
    content = ReportContent("uid", datetime.now(UTC), "erin", "0", view, None, (), (), ())
    assert "The main face was found in 10 of 20 sampled frames (50 %); the scores of the main face rest on those " \
           "frames only." in limitation_lines(content)
