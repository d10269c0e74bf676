"""The timeline on a real saved analysis of a real clip (synthetic scores): a time axis in seconds, a readout of the
score under the cursor, and wheel zoom with a reset."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication

from dfdesk.gui.views.timeline import HOVER_HINT, TimeAxis, TimelineView
from dfdesk.services.results import load_analysis
from tests.fixtures.analyses import make_saved_analysis


@pytest.fixture
def timeline(qtbot, db, clip_dir: Path) -> TimelineView:
    return shown_timeline(qtbot, db, clip_dir, (900, 320))


def shown_timeline(qtbot, db, clip_dir: Path, size: tuple[int, int]) -> TimelineView:
    analysis_id = make_saved_analysis(db, clip_dir / "face.mp4")  # 20 frames at 25 fps, scored every 2nd frame
    with db.unit_of_work() as session:
        view = load_analysis(session, analysis_id)
    widget = TimelineView()
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    widget.show_analysis(view)
    qtbot.waitExposed(widget)
    return widget


def test_the_axis_ticks_fall_on_round_seconds_and_read_in_seconds():
    axis = TimeAxis()
    axis.fps = 25.0
    levels = axis.tickValues(0, 250, 800)  # ten seconds of frames on 800 px
    spacing, values = levels[0]
    assert spacing / axis.fps in (1.0, 2.0, 5.0)
    assert all(abs(v / axis.fps - round(v / axis.fps)) < 1e-9 for v in values)
    assert axis.tickStrings([0.0, 50.0, 100.0], 1.0, spacing) == ["0", "2", "4"]
    assert axis.tickStrings([5.0, 10.0], 1.0, 5.0) == ["0.2", "0.4"]  # fifths of a second when zoomed in


def test_the_time_axis_uses_the_video_frame_rate(timeline: TimelineView):
    axis = timeline.scores.getAxis("bottom")
    assert isinstance(axis, TimeAxis) and axis.fps == 25.0
    assert axis.isVisible() and "time (s)" in axis.labelText


def view_to_widget(timeline: TimelineView, x: float, y: float) -> QPoint:
    scene = timeline.scores.getViewBox().mapViewToScene(QPointF(x, y))
    return timeline.graphics.mapFromScene(scene)


def test_the_readout_names_time_frame_model_and_score_under_the_cursor(qtbot, timeline: TimelineView):
    x, y = timeline.curves["meso4_df"].getData()
    i = 3
    qtbot.mouseMove(timeline.graphics.viewport(), view_to_widget(timeline, x[i], y[i]))
    qtbot.waitUntil(lambda: timeline.readout.text() != HOVER_HINT, timeout=2000)
    frame = int(x[i])
    assert timeline.readout.text() == (f"{frame / 25:.2f} s · frame {frame} · meso4_df · P(fake) {y[i]:.2f}")
    marker_x, marker_y = timeline.hover_marker.getData()
    assert (list(marker_x), list(marker_y)) == ([frame], [pytest.approx(y[i])])


def test_outside_the_scores_plot_the_readout_shows_the_hint(timeline: TimelineView):
    timeline.show_reading_at(QPointF(-50, -50))
    assert timeline.readout.text() == HOVER_HINT


def wheel(timeline: TimelineView, at: QPoint, steps: int) -> None:
    viewport = timeline.graphics.viewport()
    event = QWheelEvent(QPointF(at), QPointF(viewport.mapToGlobal(at)), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def test_the_wheel_zooms_the_time_axis_and_reset_shows_the_whole_video(qtbot, timeline: TimelineView):
    whole = timeline.visible_frames()
    assert whole[0] <= 0 and whole[1] >= 19
    wheel(timeline, view_to_widget(timeline, 10, 0.5), steps=3)
    low, high = timeline.visible_frames()
    assert high - low < whole[1] - whole[0] and low <= 10 <= high
    assert timeline.scores.getViewBox().viewRange()[1] == pytest.approx([-0.03, 1.03], abs=0.02)  # P(fake) stays
    timeline.reset_zoom_button.click()
    assert timeline.visible_frames() == pytest.approx(whole)


def test_zooming_out_stops_at_the_whole_video(qtbot, timeline: TimelineView):
    wheel(timeline, view_to_widget(timeline, 10, 0.5), steps=-10)
    low, high = timeline.visible_frames()
    assert low >= -0.5 and high <= 19.5


def test_in_a_narrow_column_the_legend_wraps_and_the_whole_video_stays_in_view(qtbot, timeline: TimelineView):
    timeline.resize(200, 320)
    qtbot.waitUntil(lambda: timeline.legend.columnCount == 1)
    qtbot.waitUntil(lambda: timeline.scores.sceneBoundingRect().right() <= timeline.graphics.viewport().width())
    assert [label.text for _sample, label in timeline.legend.items] == ["meso4_df", timeline.labels["fused"]]
    timeline.resize(900, 320)
    qtbot.waitUntil(lambda: timeline.legend.columnCount == 2)  # room again: one row of entries


def test_a_short_timeline_gives_the_plot_the_legends_room_and_the_menu_is_the_key(qtbot, timeline: TimelineView):
    """On a 150 % desktop at 1366x768 three legend rows left a plot a dozen pixels high: below MIN_PLOT_HEIGHT the
    legend leaves the layout, the hint says where the colours are, and the legend comes back with the room."""
    from dfdesk.gui.views.timeline import MIN_PLOT_HEIGHT, NO_LEGEND_HINT
    from dfdesk.gui.widgets.images import CURVE_COLOURS

    timeline.resize(200, 170)  # one legend column, two rows: the plot would be squeezed below MIN_PLOT_HEIGHT
    qtbot.waitUntil(lambda: not timeline.legend_shown)
    assert timeline.legend.scene() is None and timeline.readout.text() == NO_LEGEND_HINT
    view = timeline.graphics.viewport().height()
    legend = timeline.legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize).height()
    assert view - legend < MIN_PLOT_HEIGHT
    qtbot.waitUntil(lambda: timeline.scores.sceneBoundingRect().height() > view - legend)  # the legend's room too
    icon = timeline.detectors_button.menu().actions()[0].icon()
    middle = icon.pixmap(12, 12).toImage().pixelColor(6, 6)
    assert _rgb_distance(middle, QColor(CURVE_COLOURS[0])) == 0  # meso4_df's swatch is its curve's colour
    timeline.resize(900, 320)
    qtbot.waitUntil(lambda: timeline.legend_shown and timeline.legend.scene() is not None)
    assert timeline.readout.text() == HOVER_HINT and timeline.legend.columnCount == 2


def test_a_timeline_short_from_the_start_says_where_its_colour_key_is(qtbot, db, clip_dir: Path):
    from dfdesk.gui.views.timeline import NO_LEGEND_HINT

    short = shown_timeline(qtbot, db, clip_dir, (200, 170))
    qtbot.waitUntil(lambda: not short.legend_shown and short.legend.scene() is None)
    assert short.readout.text() == NO_LEGEND_HINT


def curve_pixels(timeline: TimelineView, colour: str) -> int:
    """How many pixels of the scores plot are drawn in ``colour`` (give or take antialiasing)."""
    from PySide6.QtGui import QColor

    target = QColor(colour)
    image = timeline.graphics.grab().toImage()
    area = timeline.graphics.mapFromScene(timeline.scores.getViewBox().sceneBoundingRect()).boundingRect()
    return sum(1 for x in range(max(area.left(), 0), min(area.right(), image.width()))
               for y in range(max(area.top(), 0), min(area.bottom(), image.height()))
               if _near(image.pixelColor(x, y), target))


def _near(a, b) -> bool:
    return _rgb_distance(a, b) < 40


def _rgb_distance(a, b) -> int:
    """Summed red, green and blue differences of two QColors."""
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())


def test_a_detector_can_be_hidden_and_the_fused_curve_stays(qtbot, timeline: TimelineView):
    from dfdesk.gui.widgets.images import CURVE_COLOURS, FUSED_COLOUR

    menu = timeline.detectors_button.menu()
    assert [a.text() for a in menu.actions()] == ["meso4_df"] and all(a.isChecked() for a in menu.actions())
    assert curve_pixels(timeline, CURVE_COLOURS[0]) > 20
    menu.actions()[0].setChecked(False)
    assert not timeline.curves["meso4_df"].isVisible() and timeline.curves["fused"].isVisible()
    assert timeline.hidden_detectors() == ["meso4_df"]
    assert curve_pixels(timeline, CURVE_COLOURS[0]) == 0 and curve_pixels(timeline, FUSED_COLOUR) > 20
    x, y = timeline.curves["fused"].getData()
    timeline.show_reading_at(timeline.scores.getViewBox().mapViewToScene(QPointF(x[3], y[3])))
    assert "meso4_df" not in timeline.readout.text() and "fused" in timeline.readout.text()  # hidden: not read out
    menu.actions()[0].setChecked(True)
    assert timeline.curves["meso4_df"].isVisible()


def click_sample(qtbot, timeline: TimelineView, label: str) -> None:
    sample = next(sample for sample, text in timeline.legend.items if text.text == label)
    at = timeline.graphics.mapFromScene(sample.sceneBoundingRect().center())
    qtbot.mouseClick(timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=at)


def test_a_click_in_the_legend_toggles_a_detector_but_never_the_fused_curve(qtbot, timeline: TimelineView):
    click_sample(qtbot, timeline, "meso4_df")
    assert not timeline.curves["meso4_df"].isVisible()
    assert not timeline.detectors_button.menu().actions()[0].isChecked()  # the menu follows
    click_sample(qtbot, timeline, timeline.labels["fused"])
    assert timeline.curves["fused"].isVisible()
    click_sample(qtbot, timeline, "meso4_df")
    assert timeline.curves["meso4_df"].isVisible() and timeline.detectors_button.menu().actions()[0].isChecked()


def _distance(a: str, b: str) -> int:
    from PySide6.QtGui import QColor

    return _rgb_distance(QColor(a), QColor(b))


def test_every_installed_detector_gets_a_colour_of_its_own():
    from dfdesk.gui.widgets.images import CURVE_COLOURS, FUSED_COLOUR
    from dfdesk.services.models import list_installed

    drawn = [card for card in list_installed() if card.trained]  # one curve each on the timeline
    assert len(CURVE_COLOURS) >= len(drawn) + 3  # and room for a few an admin installs
    for i, colour in enumerate(CURVE_COLOURS):
        assert _distance(colour, FUSED_COLOUR) >= 60 and _distance(colour, "#ffb000") >= 60, colour
        assert all(_distance(colour, other) >= 60 for other in CURVE_COLOURS[i + 1:]), colour
