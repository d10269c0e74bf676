"""The analysis page on a real saved analysis of a real clip (synthetic scores from make_saved_analysis)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from sqlalchemy import select

from dfdesk.gui import dialogs
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views.analysis_view import AnalysisPage
from dfdesk.gui.views.gallery import GalleryView, strip_geometry
from dfdesk.store.tables import AuditEvent, Note
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import messages


@pytest.fixture
def page(qtbot, db, jobs, settings, clip_dir: Path) -> AnalysisPage:
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")
    widget = AnalysisPage(db, jobs, settings, lambda: "erin", analysis_id)
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitUntil(lambda: widget.crop_job.state == "done", timeout=10_000)
    shown(qtbot, widget, 0)
    yield widget
    widget.shutdown()


def shown(qtbot, page: AnalysisPage, index: int) -> None:
    """Wait until the player's decoding thread has put frame ``index`` on screen."""
    qtbot.waitUntil(lambda: page.player.position == index and not page.player.busy, timeout=5000)


def test_the_player_steps_frame_by_frame_and_the_timeline_follows(qtbot, page: AnalysisPage):
    assert page.player.position == 0 and page.player.source.frame_count == 20
    page.player.step(1)
    page.player.step(1)  # steps add up even before the first one is decoded
    shown(qtbot, page, 2)
    assert page.timeline.position == 2
    page.player.seek(10**6)
    assert page.player.frame_box.value() == 19  # the controls follow at once
    shown(qtbot, page, 19)
    page.player.seek(3)  # backwards: a re-seek
    shown(qtbot, page, 3)
    assert page.player.slider.value() == 3


def test_a_seek_returns_at_once_and_only_the_newest_request_is_decoded(qtbot, page: AnalysisPage, monkeypatch):
    source, decoded, release = page.player.source, [], threading.Event()
    original = source.frame

    def slow_frame(index):
        decoded.append(index)
        release.wait(5)  # a long group of pictures: the decoder is busy while the analyst keeps dragging
        return original(index)

    monkeypatch.setattr(source, "frame", slow_frame)
    page.player.seek(5)
    qtbot.waitUntil(lambda: decoded == [5], timeout=5000)  # the decoder is busy with frame 5 ...
    for index in (9, 13, 17):
        page.player.seek(index)  # ... and each seek returns at once
    assert page.player.position == 0 and page.player.frame_box.value() == 17 and page.player.busy
    release.set()
    shown(qtbot, page, 17)
    assert decoded == [5, 17]  # 9 and 13 were replaced before the decoder was free


def test_keyboard_shortcuts_step_and_play(qtbot, page: AnalysisPage):
    page.player.setFocus()
    qtbot.keyClick(page.player, Qt.Key.Key_Right)
    qtbot.keyClick(page.player, Qt.Key.Key_Right)
    qtbot.keyClick(page.player, Qt.Key.Key_Left)
    shown(qtbot, page, 1)
    qtbot.keyClick(page.player, Qt.Key.Key_Space)
    assert page.player.is_playing
    qtbot.waitUntil(lambda: page.player.position >= 4, timeout=5000)
    qtbot.keyClick(page.player, Qt.Key.Key_Space)
    assert not page.player.is_playing


def test_face_boxes_and_track_ids_are_drawn_over_the_frame(qtbot, page: AnalysisPage):
    page.player.seek(0)
    shown(qtbot, page, 0)
    assert page.player.canvas.boxes == [(0, True, (40.0, 30.0, 160.0, 150.0))]
    image = page.player.canvas.grab().toImage()
    rect = page.player.canvas.image_rect()
    scale = rect.width() / 320
    edge = image.pixelColor(int(rect.left() + 40 * scale), int(rect.top() + 90 * scale))
    assert (edge.red(), edge.green()) > (200, 180)  # the yellow box of track 0


def test_clicking_on_the_timeline_seeks_the_video(qtbot, page: AnalysisPage):
    plot = page.timeline.scores.getViewBox()
    scene_point = plot.mapViewToScene(QPointF(12, 0.5))
    view_point = page.timeline.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(page.timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(view_point))
    shown(qtbot, page, 12)
    assert page.timeline.position == 12


def test_the_timeline_shows_each_detector_the_fused_curve_and_the_threshold_band(page: AnalysisPage):
    assert list(page.timeline.curves) == ["meso4_df", "fused"]
    x, y = page.timeline.curves["fused"].getData()
    assert list(x) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert page.timeline.band.getRegion() == pytest.approx((0.4, 0.6))
    assert "lipforensics_ta" not in page.timeline.curves  # needs training: no curve


def test_the_gallery_shows_suspicious_faces_with_heat_maps_and_seeks(qtbot, page: AnalysisPage):
    cards = page.gallery.cards
    assert cards[0].item.heatmaps and cards[0].item.frame_index == 2  # the frame with a heat map first
    assert all(card.face is not None for card in cards)
    with_map = cards[0].image.pixmap().toImage()
    page.gallery.opacity.setValue(0)
    without = cards[0].image.pixmap().toImage()
    assert with_map != without
    page.gallery.opacity.setValue(100)
    page.gallery.choose_scorer("fused")  # no heat map of its own
    assert cards[0].image.pixmap().toImage() == without
    qtbot.mouseClick(cards[3], Qt.MouseButton.LeftButton)
    shown(qtbot, page, cards[3].item.frame_index)


def fully_shown(gallery: GalleryView) -> int:
    """How many cards are on screen whole, not clipped by the gallery's scroll area."""
    return sum(card.visibleRegion().boundingRect() == card.rect() for card in gallery.cards)


@pytest.mark.parametrize(("size", "cards", "side"), [((1366, 768), 3, 96), ((1920, 1080), 3, 150)])
def test_the_gallery_shows_a_row_of_large_faces_in_a_laptop_sized_window(qtbot, db, jobs, settings, clip_dir,
                                                                         size, cards, side):
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    page = window.open_analysis(make_saved_analysis(db, clip_dir / "face.mp4"))
    qtbot.waitUntil(lambda: page.crop_job.state == "done", timeout=10_000)
    gallery = page.gallery
    assert len(gallery.cards) == 8
    assert fully_shown(gallery) >= cards and gallery.cards[0].image.width() >= side
    assert gallery.cards[0].image.pixmap().width() >= side  # drawn at the new size, not scaled up
    gallery.scroll.horizontalScrollBar().setValue(gallery.scroll.horizontalScrollBar().maximum())
    qtbot.waitUntil(lambda: gallery.cards[-1].visibleRegion().boundingRect() == gallery.cards[-1].rect())
    page.shutdown()


def test_thumbnails_grow_with_the_height_and_wrap_into_rows_when_it_holds_them():
    extra = (16, 50)
    assert strip_geometry(470, 180, extra, 8) == (1, 130)  # one row, held to three side by side
    assert strip_geometry(470, 120, extra, 8) == (1, 96)  # never smaller than legible
    assert strip_geometry(900, 200, extra, 8) == (1, 150)  # wide: as tall as the row allows
    assert strip_geometry(470, 330, extra, 8) == (2, 115)  # tall: a second row instead of huge faces
    assert strip_geometry(470, 330, extra, 1) == (1, 256)  # one face alone: capped


def test_the_verdict_panel_shows_the_fused_verdict_and_never_scores_untrained_detectors(page: AnalysisPage):
    panel = page.verdict
    assert panel.headline.text() == "Likely manipulated"
    assert panel.probability.text() == "Mean probability 71% (band 62%–79%)"
    assert "only one detector contributed" in panel.agreement.text()
    assert panel.bars["meso4_df"].value() == 710
    untrained = panel.bars["lipforensics_ta"]
    assert not hasattr(untrained, "value") and "needs training" in untrained.text()


def test_saving_a_finding_records_a_note_with_the_analyst_and_audits_it(qtbot, db, page: AnalysisPage):
    panel = page.verdict
    assert not panel.notes_list.isVisibleTo(panel)  # no saved finding: no empty box
    panel.note_edit.setPlainText("Lip sync drifts at 0.4 s.")
    next(b for b in panel.conclusions.buttons() if b.property("conclusion") == "disagree").click()
    with qtbot.waitSignal(page.notes_changed):
        panel.save_button.click()
    with db.unit_of_work() as s:
        note = s.scalar(select(Note))
        audit = s.scalar(select(AuditEvent).where(AuditEvent.action == "verdict.analyst"))
    assert (note.author, note.conclusion, note.text, note.analysis_id) == ("erin", "disagree",
                                                                         "Lip sync drifts at 0.4 s.", page.analysis_id)
    assert audit.actor == "erin" and audit.details["note_id"] == note.id
    assert panel.notes_list.count() == 1 and "erin: [disagree] Lip sync" in panel.notes_list.item(0).text()
    assert panel.notes_list.isVisibleTo(panel)
    assert panel.note_edit.toPlainText() == "" and panel.chosen_conclusion() is None


def test_an_empty_finding_gives_a_readable_dialog_and_saves_nothing(qtbot, db, page: AnalysisPage):
    page.verdict.save_button.click()
    assert messages() == ["an empty note without a conclusion is not saved"]
    with db.unit_of_work() as s:
        assert s.scalar(select(Note)) is None


def test_a_missing_evidence_file_is_said_in_the_player(qtbot, db, jobs, settings, tmp_path: Path, clip_dir: Path):
    copy = tmp_path / "copy.mp4"
    copy.write_bytes((clip_dir / "face.mp4").read_bytes())
    analysis_id = make_saved_analysis(db, copy)
    copy.unlink()
    widget = AnalysisPage(db, jobs, settings, lambda: "erin", analysis_id)
    qtbot.addWidget(widget)
    assert "cannot be shown" in widget.player.canvas.message
    assert not widget.player.play_button.isEnabled()
    assert widget.verdict.headline.text() == "Likely manipulated"  # the results still read


def test_gallery_faces_say_where_their_pixels_came_from(page: AnalysisPage):
    card = page.gallery.cards[0]
    assert f"Frame {card.item.frame_index} (decoded pts " in card.toolTip()
    assert "not checked: the crops the analysis scored are no longer cached" in card.toolTip()  # a saved analysis


def test_a_gallery_face_whose_pixels_differ_from_the_analysis_is_not_shown(page: AnalysisPage):
    card = page.gallery.cards[1]
    card.face = None
    page.gallery.set_face(card.item.track_index, card.item.frame_index, None, None,
                          "frame 4 decoded to other pixels than the face crop the analysis scored")
    assert card.face is None and "face not shown" in card.caption.text() and "other pixels" in card.caption.text()


def test_gallery_cards_name_the_detector_whose_score_and_heat_map_they_show(page: AnalysisPage):
    gallery = page.gallery
    assert [gallery.scorer.itemText(i) for i in range(gallery.scorer.count())] == ["meso4_df", "fused"]
    assert gallery.scorer.currentText() == "meso4_df"  # the detector with heat maps first
    card = gallery.cards[0]  # frame 2: the heat map's own score, 0.8
    assert card.full_caption == "frame 2 · 0.08 s\nmeso4_df 80%" and "P(fake) by meso4_df" in card.caption.toolTip()
    fused = next(p for p in page.view.points["fused"] if p.frame_index == 2).fake_probability
    gallery.choose_scorer("fused")
    assert card.full_caption == f"frame 2 · 0.08 s\nfused {100 * fused:.0f}%"


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_the_finding_form_is_on_screen_without_scrolling(qtbot, db, jobs, settings, clip_dir, size):
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    page = window.open_analysis(make_saved_analysis(db, clip_dir / "face.mp4"))
    qtbot.waitUntil(lambda: page.crop_job.state == "done", timeout=10_000)
    panel = page.verdict
    for widget in (page.finding, panel.note_edit, panel.save_button, *panel.conclusions.buttons()):
        assert widget.isVisible() and widget.visibleRegion().boundingRect() == widget.rect()  # whole, not clipped
        corner = widget.mapTo(window, QPoint(0, 0))
        assert window.rect().contains(corner) and window.rect().contains(corner + QPoint(widget.width() - 1,
                                                                                          widget.height() - 1))
    assert page.finding.title() == "Your finding"
    page.shutdown()


@pytest.fixture
def window_with_page(qtbot, db, jobs, settings, clip_dir, monkeypatch):
    # pytest-qt closes the window after the test, before fixtures end: a question left unanswered then would wait
    # for a click forever, so questions default to "yes" (a test that checks them patches its own answer)
    monkeypatch.setattr(dialogs, "ask", lambda *_args: True)
    window = MainWindow(db, settings, jobs)
    qtbot.addWidget(window)
    window.show()
    page = window.open_analysis(make_saved_analysis(db, clip_dir / "face.mp4"))
    qtbot.waitUntil(lambda: page.crop_job.state == "done", timeout=10_000)
    return window, page


def asked(monkeypatch, answer: bool) -> list[str]:
    questions: list[str] = []
    monkeypatch.setattr(dialogs, "ask", lambda _parent, title, _text: questions.append(title) or answer)
    return questions


def test_closing_a_tab_with_an_unsaved_finding_asks_first(window_with_page, monkeypatch):
    window, page = window_with_page
    page.verdict.note_edit.setPlainText("Blending seam at the jaw.")
    questions = asked(monkeypatch, False)
    assert window.close_tab(1) is False
    assert questions == ["Unsaved finding"] and window.tabs.widget(1) is page
    assert page.verdict.note_edit.toPlainText() == "Blending seam at the jaw."  # kept
    questions = asked(monkeypatch, True)
    assert window.close_tab(1) is True and window.tabs.count() == 1 and questions == ["Unsaved finding"]


def test_a_chosen_conclusion_alone_counts_as_unsaved(window_with_page):
    _window, page = window_with_page
    assert not page.has_unsaved_finding()
    page.verdict.conclusions.buttons()[0].click()
    assert page.has_unsaved_finding()


def test_closing_a_tab_without_a_finding_asks_nothing(window_with_page, monkeypatch):
    window, _page = window_with_page
    questions = asked(monkeypatch, False)
    assert window.close_tab(1) is True and questions == []


def test_quitting_with_an_unsaved_finding_asks_and_stays_open_on_no(qtbot, window_with_page, monkeypatch):
    window, page = window_with_page
    page.verdict.note_edit.setPlainText("Teeth blur between frames 40 and 60.")
    questions = asked(monkeypatch, False)
    window.close()
    assert window.isVisible() and window.tabs.widget(1) is page and questions == ["Unsaved findings"]
    questions = asked(monkeypatch, True)
    window.close()
    assert not window.isVisible() and questions == ["Unsaved findings"]
