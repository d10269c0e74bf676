"""The GUI's choice of video stream for a file with several (issue 21, point 3), on a real two-stream file."""
from __future__ import annotations

from pathlib import Path

from dfdesk.gui import dialogs
from dfdesk.services.analysis import video_streams_of
from tests.fixtures.streams import two_video_streams


def test_the_default_stream_is_preselected_and_another_can_be_chosen(qtbot, tmp_path: Path) -> None:
    streams = video_streams_of(two_video_streams(tmp_path / "two.mkv", default=1, audio=True))
    dialog = dialogs.stream_choice(None, "two.mkv", streams)
    qtbot.addWidget(dialog)
    assert dialog.comboBoxItems() == ["stream 0: h264 320x240, 20 frames",
                                      "stream 1 (default): h264 320x240, 20 frames"]
    assert "2 video streams" in dialog.labelText() and dialogs.chosen_stream(dialog, streams) == 1
    dialog.setTextValue(dialog.comboBoxItems()[0])
    assert dialogs.chosen_stream(dialog, streams) == 0


def test_analysing_a_two_stream_file_from_the_window_asks_which_stream(qtbot, tmp_path: Path, db, jobs, settings,
                                                                        monkeypatch) -> None:
    from PySide6.QtWidgets import QInputDialog

    from dfdesk.gui.main_window import MainWindow
    from dfdesk.services.ingest import ingest_video

    intake = ingest_video(db, "Case", two_video_streams(tmp_path / "two.mkv", default=1, audio=True), "alice")
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.open_case(intake.case_id)
    submitted = []
    monkeypatch.setattr(window, "_submit_analysis", lambda evidence_id, request: submitted.append(request))
    answers = iter([True, False])  # first: stream 0 chosen and accepted; then: the question cancelled

    def answer(dialog: QInputDialog) -> int:
        dialog.setTextValue(dialog.comboBoxItems()[0])
        return int(next(answers))

    monkeypatch.setattr(QInputDialog, "exec", answer)
    window.analyse([intake.evidence_id])
    window.analyse([intake.evidence_id])
    assert [r.stream for r in submitted] == [0]  # the cancelled question started nothing
