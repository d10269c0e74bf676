"""The analysis page lists every face track with its share of the sampled frames."""
from __future__ import annotations

from pathlib import Path

from dfdesk.gui.views.face_tracks import FaceTracksBox, track_lines
from dfdesk.services.results import load_analysis
from tests.services.test_face_presence_view import saved_with_plan


def test_each_track_shows_its_share_of_the_sampled_frames(qtbot, db, clip_dir: Path) -> None:
    with db.unit_of_work() as session:
        view = load_analysis(session, saved_with_plan(db, clip_dir / "face.mp4", frames=20))
    box = FaceTracksBox()
    qtbot.addWidget(box)
    box.show_analysis(view)
    assert box.lines.text() == "Track 0 (main face): face in 10 of 20 sampled frames (50 %)"
    assert box.title() == "Face tracks"


def test_without_recorded_plans_the_frame_count_is_shown(db, clip_dir: Path) -> None:
    from tests.fixtures.analyses import make_saved_analysis

    with db.unit_of_work() as session:
        view = load_analysis(session, make_saved_analysis(db, clip_dir / "face.mp4"))
    assert track_lines(view) == ["Track 0 (main face): face in 10 frames"]
