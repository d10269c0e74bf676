"""The player on a real saved analysis of a real clip: zoom and pan, the full-screen player, and the exported PNG
(pixels equal to an independent decode of that frame, its index, pts, time and the evidence SHA-256 in the file)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt

from dfdesk.core.video import VideoReader
from dfdesk.gui.views.analysis_view import AnalysisPage
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.test_analysis_view import shown


@pytest.fixture
def page(qtbot, db, jobs, settings, clip_dir: Path) -> AnalysisPage:
    widget = AnalysisPage(db, jobs, settings, lambda: "erin", make_saved_analysis(db, clip_dir / "face.mp4"))
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitUntil(lambda: widget.crop_job.state == "done", timeout=10_000)
    shown(qtbot, widget, 0)
    yield widget
    widget.shutdown()


def test_an_exported_frame_holds_the_decoded_pixels_and_says_where_they_came_from(qtbot, page, tmp_path, clip_dir):
    page.player.seek(7)
    shown(qtbot, page, 7)
    page.player.ask_png_path = lambda _parent, suggested: tmp_path / suggested
    out = page.player.ask_export()
    assert out == tmp_path / "face-frame7.png"
    evidence = page.view.evidence
    with VideoReader(evidence.path, evidence.video) as reader:  # an independent decode from the first frame
        decoded = [f for f in reader.frames(range(8))][-1]
    with Image.open(out) as png:
        pixels, text = np.asarray(png.convert("RGB")), dict(png.text)
    assert decoded.index == 7 and np.array_equal(pixels, decoded.image)
    assert text["frame_index"] == "7" and text["pts"] == str(decoded.pts)
    assert float(text["time_s"]) == pytest.approx(decoded.time_s, abs=1e-6)
    assert text["evidence_sha256"] == hashlib.sha256((clip_dir / "face.mp4").read_bytes()).hexdigest()
    assert text["evidence_file"] == "face.mp4" and text["time_base"] == page.player.source.time_base


def test_export_into_a_missing_folder_says_so_and_writes_nothing(page, tmp_path):
    from tests.gui.conftest import messages

    assert page.player.export_frame(tmp_path / "gone" / "f.png") is None
    assert len(messages()) == 1 and "could not be written" in messages()[0]


def wheel(canvas, at: QPointF, steps: int) -> None:
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    event = QWheelEvent(at, canvas.mapToGlobal(at), QPoint(0, 0), QPoint(0, 120 * steps), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, event)


def test_the_wheel_zooms_around_the_cursor_and_fit_shows_the_whole_frame(page):
    canvas = page.player.canvas
    whole = canvas.image_rect()
    at = QPointF(whole.left() + whole.width() * 0.3, whole.top() + whole.height() * 0.4)
    under = canvas.image_point(at)
    wheel(canvas, at, 3)
    assert canvas.zoom == pytest.approx(1.25 ** 3)
    assert canvas.image_rect().width() == pytest.approx(whole.width() * 1.25 ** 3)
    after = canvas.image_point(at)
    assert (after.x(), after.y()) == (pytest.approx(under.x(), abs=0.5), pytest.approx(under.y(), abs=0.5))
    page.player.zoom_in_button.click()
    assert canvas.zoom == pytest.approx(1.25 ** 4) and page.player.fit_button.text() == "2.4×"
    page.player.fit_button.click()
    assert canvas.zoom == 1.0 and canvas.image_rect() == whole


def test_a_zoomed_frame_pans_by_dragging(qtbot, page):
    canvas = page.player.canvas
    canvas.set_zoom(4.0)
    before = canvas.image_rect()
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(canvas, centre + QPoint(30, 20))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=centre + QPoint(30, 20))
    moved = canvas.image_rect()
    assert (moved.left() - before.left(), moved.top() - before.top()) == (pytest.approx(30), pytest.approx(20))
    scale = moved.width() / canvas.pixmap.width()  # the frame's middle moved right: the centre shows a point left
    assert canvas.image_point(QPointF(centre)).x() == pytest.approx(canvas.pixmap.width() / 2 - 30 / scale, abs=0.5)


def test_the_player_enlarges_full_screen_with_its_keys_and_comes_back(qtbot, page):
    sizes = page.left.sizes()
    page.player.enlarge_button.click()
    window = page.enlarged
    assert window is not None and window.isFullScreen() and page.player.window() is window
    assert page.left.indexOf(page.player) == -1
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_Right)  # the page's keys work in the enlarged player
    shown(qtbot, page, 1)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: page.enlarged is None)
    assert page.left.indexOf(page.player) == 0 and page.player.window() is page.window()
    assert page.left.sizes() == sizes


def test_a_page_closed_while_enlarged_takes_its_player_back(qtbot, page):
    page.toggle_enlarged()
    assert page.enlarged is not None
    page.shutdown()
    assert page.enlarged is None and page.left.indexOf(page.player) == 0
