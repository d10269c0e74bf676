"""The triage table view and the main window's batch hooks (Analyse all, a dropped folder) on a real database,
real clips and the real batch with worker processes."""
from __future__ import annotations

import csv
import functools
import json
import re
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from dfdesk.gui import main_window as main_window_module
from dfdesk.gui.jobs import DONE
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views.analysis_view import AnalysisPage
from dfdesk.gui.views.triage_view import COLUMNS, TriagePage
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.ingest import ingest_video
from dfdesk.store.tables import Analysis
from tests.fixtures import hostile
from tests.fixtures.analyses import make_saved_analysis
from tests.services.batch_support import face_clips


def _cell(page: TriagePage, row: int, column: str) -> str:
    return page.model.data(page.model.index(row, COLUMNS.index(column)))


def _set_probability(db, analysis_id: int, p: float, log10_lr: float | None = None, **evidence) -> None:
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        analysis.fake_probability = p
        verdict = dict(analysis.summary["verdict"], fake_probability=p)
        if log10_lr is not None:
            verdict["evidence"] = {"likelihood_ratio": 10**log10_lr, "log10_lr": log10_lr, **evidence}
        analysis.summary = {**analysis.summary, "verdict": verdict}


def _saved_case(db, clip_dir: Path, tmp_path: Path) -> tuple[int, list[int]]:
    """Three saved analyses in one case: P(fake) 0.9 without a likelihood ratio, 0.3 with LR 1000, 0.6."""
    names = []
    for i in range(3):
        copy = tmp_path / f"video_{i}.mp4"
        copy.write_bytes((clip_dir / "face.mp4").read_bytes() + bytes([i]))
        names.append(make_saved_analysis(db, copy, case="Seized phone"))
    _set_probability(db, names[0], 0.9)
    _set_probability(db, names[1], 0.3, log10_lr=3.0)
    _set_probability(db, names[2], 0.6)
    with db.unit_of_work() as session:
        case_id = session.get(Analysis, names[0]).evidence.case_id
    return case_id, names


def test_the_table_is_sorted_by_evidence_strength_and_opens_an_analysis(qtbot, db, clip_dir, tmp_path):
    case_id, ids = _saved_case(db, clip_dir, tmp_path)
    page = TriagePage(db, case_id)
    qtbot.addWidget(page)
    assert [row.analysis_id for row in page.model.rows] == [ids[1], ids[0], ids[2]]  # LR 1000, odds 9, odds 1.5
    assert _cell(page, 0, "Evidence").startswith("LR 1e+03") and _cell(page, 1, "Evidence") == "P(fake) 0.900"
    assert _cell(page, 0, "Strongest detector") == "meso4_df (0.71)" and _cell(page, 0, "Faces") == "1"
    assert re.fullmatch(r"\d+ \(\d+\.\d s\)", _cell(page, 0, "Peak frame"))
    for row in range(3):
        assert not re.search(r"\b(real|authentic)\b", _cell(page, row, "Finding"), re.IGNORECASE)
    with qtbot.waitSignal(page.analysis_opened) as opened:
        page.table.doubleClicked.emit(page.model.index(1, 0))
    assert opened.args == [ids[0]]


def test_a_case_where_no_detector_carries_weight_says_its_order_means_nothing(qtbot, db, clip_dir, tmp_path):
    from dfdesk.services.batch_triage import UNORDERED

    case_id, ids = _saved_case(db, clip_dir, tmp_path)
    for analysis_id in ids:  # the shipped fit: every weight 0, LR 1 for every video
        _set_probability(db, analysis_id, 0.5, log10_lr=0.0, members=[])
    page = TriagePage(db, case_id)
    qtbot.addWidget(page)
    no_weight = "LR 1: no detector has weight"
    assert [_cell(page, row, "Evidence") for row in range(3)] == [no_weight] * 3
    assert page.status.text() == f"3 analysed video(s); drop a folder here to triage it into this case. {UNORDERED}"
    assert page.minimumSizeHint().width() < 800  # the note wraps: it never widens the window past a laptop screen
    _set_probability(db, ids[1], 0.3, log10_lr=3.0, members=["meso4_df"])
    page.refresh()
    assert UNORDERED not in page.status.text() and _cell(page, 0, "Evidence").startswith("LR 1e+03")


def test_the_table_exports_as_csv_and_json(qtbot, db, clip_dir, tmp_path, monkeypatch):
    case_id, ids = _saved_case(db, clip_dir, tmp_path)
    page = TriagePage(db, case_id)
    qtbot.addWidget(page)
    page.show_refused(str(tmp_path / "notes.txt"), "not a readable video")
    targets = iter([tmp_path / "out.csv", tmp_path / "out.json"])
    monkeypatch.setattr(page, "ask_export_path", lambda *_args: next(targets))
    page.csv_button.click()
    page.json_button.click()
    table = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert [int(r["analysis_id"]) for r in table] == [ids[1], ids[0], ids[2]]
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert [r["analysis_id"] for r in document["rows"]] == [ids[1], ids[0], ids[2]]
    assert document["refused"] == [{"path": str(tmp_path / "notes.txt"), "reason": "not a readable video"}]
    assert page.status.text() == f"Saved {tmp_path / 'out.json'}"


def test_analyse_all_and_a_dropped_folder_run_the_batch_in_the_job_queue(qtbot, db, jobs, settings, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setattr(main_window_module, "AnalysisRequest",
                        functools.partial(AnalysisRequest, models=("meso4_df",)))  # one model: a quick batch
    first, dropped = face_clips(tmp_path / "intake", 1)[0], face_clips(tmp_path / "dropped", 2, first_frames=12)
    hostile.random_bytes(dropped[0].parent)
    intake = ingest_video(db, "Seized phone", first, "alice")
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    window.open_case(intake.case_id)
    window.cases.select(intake.case_id)
    assert window.cases.analyse_all_button.isEnabled()
    window.cases.analyse_all_button.click()
    page = window.tabs.currentWidget()
    assert isinstance(page, TriagePage) and page.case_id == intake.case_id
    job = jobs.jobs()[0]
    qtbot.waitUntil(lambda: job.state == DONE, timeout=300_000)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=5_000)
    assert "1/1" in window.jobs_panel.rows[0].status.text() or window.jobs_panel.rows[0].bar.value() == 1
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped[0].parent))])
    page.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier))
    second = jobs.jobs()[0]
    qtbot.waitUntil(lambda: second.state == DONE, timeout=300_000)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=5_000)
    assert page.refused_list.count() == 1 and page.refused_list.item(0).text().startswith("random.mp4: not a")
    # the dropped videos were filed in the case: the table shows them once the job's finished signal (which comes
    # after its DONE state, when the worker thread has returned) or the two-second poll refreshes it
    qtbot.waitUntil(lambda: window.evidence.model.rowCount() == 3, timeout=5_000)
    page.open_row(0)
    assert isinstance(window.tabs.currentWidget(), AnalysisPage)
    assert window.tabs.currentWidget().analysis_id == page.model.rows[0].analysis_id
    qtbot.waitUntil(lambda: window.jobs.active_count() == 0, timeout=60_000)  # the analysis page's face crops
