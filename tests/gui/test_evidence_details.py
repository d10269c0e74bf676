"""Evidence details, the evidence rows' context menu and the duplicate-intake message, on real clips probed by PyAV
and a real case database."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication

from dfdesk.core.probe import probe_video
from dfdesk.gui.views import evidence_details
from dfdesk.gui.views.evidence_details import EvidenceDetailsDialog, fact_rows, load_details
from dfdesk.gui.views.evidence_table import EvidencePage
from dfdesk.services import cases
from dfdesk.services.ingest import ingest_video
from tests.gui.conftest import messages


@pytest.fixture
def opened_urls(monkeypatch) -> list[QUrl]:
    """What would have been handed to the desktop's file manager."""
    urls: list[QUrl] = []
    monkeypatch.setattr(evidence_details, "open_url", lambda url: urls.append(url) or True)
    return urls


def test_every_probed_fact_is_shown_as_the_probe_read_it(db, clip_dir: Path):
    clip = clip_dir / "portrait.mp4"
    intake = ingest_video(db, "Harbour", clip, "alice")
    info = probe_video(clip)
    with db.unit_of_work() as session:
        details = load_details(session, intake.evidence_id)
    facts = dict(fact_rows(details))
    assert facts["Video codec"] == info.codec and facts["Container"] == info.container
    assert facts["Pixel format"] == info.pixel_format and facts["Bit depth"] == f"{info.bit_depth} bit"
    assert facts["Frames"] == f"{info.frame_count:,}"
    assert facts["Frame rate"] == f"{info.fps:.3f} fps (constant)"
    assert facts["Rotation"] == "90° clockwise to show upright"
    assert facts["Audio"] == "none"
    assert facts["Resolution"] == f"{info.width}×{info.height} (as displayed)"
    assert facts["Ingested"].endswith("by alice") and facts["Ingested"][:4].isdigit()
    assert facts["Size"] == f"{clip.stat().st_size:,} bytes"


def test_a_variable_frame_rate_is_said(db, clip_dir: Path):
    intake = ingest_video(db, "Harbour", clip_dir / "vfr.mp4", "alice")
    with db.unit_of_work() as session:
        assert dict(fact_rows(load_details(session, intake.evidence_id)))["Frame rate"].endswith("(variable)")


def details_dialog(qtbot, db, clip: Path) -> EvidenceDetailsDialog:
    intake = ingest_video(db, "Harbour", clip, "alice")
    dialog = EvidenceDetailsDialog(db, intake.evidence_id)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_full_hash_is_shown_and_copied(qtbot, db, clip_dir: Path):
    dialog = details_dialog(qtbot, db, clip_dir / "face.mp4")
    assert len(dialog.hash_label.text()) == 64 and dialog.hash_label.text() == dialog.details.sha256
    QGuiApplication.clipboard().clear()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.details.sha256


def test_show_in_folder_opens_the_evidence_folder(qtbot, db, clip_dir: Path, opened_urls):
    dialog = details_dialog(qtbot, db, clip_dir / "face.mp4")
    dialog.folder_button.click()
    assert [url.toLocalFile() for url in opened_urls] == [str(clip_dir)]


def test_show_in_folder_says_why_when_the_folder_is_gone(qtbot, db, tmp_path: Path, clip_dir: Path, opened_urls):
    moved = tmp_path / "usb-stick" / "face.mp4"
    moved.parent.mkdir()
    shutil.copy(clip_dir / "face.mp4", moved)
    dialog = details_dialog(qtbot, db, moved)
    shutil.rmtree(moved.parent)
    dialog.folder_button.click()
    assert opened_urls == []
    assert len(messages()) == 1 and "not reachable" in messages()[0]


def test_the_audit_events_are_listed_and_the_chain_can_be_verified(qtbot, db, clip_dir: Path):
    dialog = details_dialog(qtbot, db, clip_dir / "face.mp4")
    assert [line.action for line in dialog.details.events] == ["evidence.ingest"]
    assert "evidence.ingest" in dialog.events.item(0).text()
    assert dialog.verify_chain() == []
    assert dialog.verify_result.text().startswith("Audit chain verified")


def test_an_edited_audit_row_shows_as_not_intact(qtbot, db, clip_dir: Path):
    dialog = details_dialog(qtbot, db, clip_dir / "face.mp4")
    raw = sqlite3.connect(db.path)
    raw.execute("DROP TRIGGER audit_events_no_update")
    raw.execute("UPDATE audit_events SET actor = 'mallory' WHERE id = 1")
    raw.commit()
    raw.close()
    dialog.verify_button.click()
    assert dialog.verify_result.text().startswith("Audit chain NOT intact")


def evidence_page(qtbot, db, jobs, clip: Path | None = None) -> EvidencePage:
    with db.unit_of_work() as session:
        case_id = cases.get_or_create_case(session, "Harbour", "x").id
    if clip is not None:
        ingest_video(db, "Harbour", clip, "alice")
    page = EvidencePage(db, jobs, lambda: "dave")
    qtbot.addWidget(page)
    page.show()
    page.show_case(case_id)
    return page


def test_the_context_menu_offers_details_copy_hash_and_show_in_folder(qtbot, db, jobs, clip_dir: Path,
                                                                      opened_urls):
    page = evidence_page(qtbot, db, jobs, clip_dir / "face.mp4")
    row = page.model.rows[0]
    menu = page.context_menu(row)
    actions = {action.text(): action for action in menu.actions()}
    assert list(actions) == ["Details…", "Copy SHA-256", "Show in folder"]
    actions["Copy SHA-256"].trigger()
    assert QGuiApplication.clipboard().text() == row.sha256
    actions["Show in folder"].trigger()
    assert [url.toLocalFile() for url in opened_urls] == [str(clip_dir)]
    page.table.selectRow(0)
    actions["Details…"].trigger()
    assert page.details_dialog.isVisible() and page.details_dialog.details.id == row.id


def test_the_details_button_needs_one_selected_video(qtbot, db, jobs, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs, clip_dir / "face.mp4")
    assert not page.details_button.isEnabled()
    page.table.selectRow(0)
    assert page.details_button.isEnabled()
    page.details_button.click()
    assert page.details_dialog.windowTitle() == "Evidence details: face.mp4"


def test_a_file_already_in_the_case_is_said_to_be_so(qtbot, db, jobs, tmp_path: Path, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs, clip_dir / "face.mp4")
    renamed = tmp_path / "same-bytes-other-name.mp4"
    shutil.copy(clip_dir / "face.mp4", renamed)
    with qtbot.waitSignal(page.add_files([clip_dir / "face.mp4", renamed]).finished, timeout=20_000):
        pass
    assert page.model.rowCount() == 1
    assert len(messages()) == 1
    text = messages()[0]
    assert "2 file(s) were already in this case" in text and "same-bytes-other-name.mp4" in text


def test_new_files_bring_no_message(qtbot, db, jobs, clip_dir: Path):
    page = evidence_page(qtbot, db, jobs)
    with qtbot.waitSignal(page.add_files([clip_dir / "face.mp4"]).finished, timeout=20_000):
        pass
    assert page.model.rowCount() == 1 and messages() == []
