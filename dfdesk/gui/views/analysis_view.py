"""The review of one analysed video: player, timeline, face gallery and verdict panel, kept in step.

The analyst's finding form sits in a pane of its own in the right column, between the verdict (whose details
scroll) and the faces, so it is on screen without scrolling at 1366x768. Text typed there and not saved is
guarded (``has_unsaved_finding``, ``confirm_close``): closing the tab or quitting asks first. "Enlarge" shows
the player full screen (``toggle_enlarged``) with the page's keys."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from dfdesk.core.probe import VideoError
from dfdesk.gui import dialogs
from dfdesk.gui.frames import FaceCrop, FrameSource, face_crops
from dfdesk.gui.jobs import Job, JobQueue
from dfdesk.gui.presenters import boxes_at, curve_names, gallery_items
from dfdesk.gui.settings import AppSettings
from dfdesk.gui.views.face_tracks import FaceTracksBox
from dfdesk.gui.views.gallery import GalleryView, frame_scores
from dfdesk.gui.views.player import PlayerView
from dfdesk.gui.views.timeline import TimelineView
from dfdesk.gui.views.verdict_panel import VerdictPanel
from dfdesk.gui.widgets.enlarged import EnlargedWindow
from dfdesk.services.key_frames import ScoredCrops
from dfdesk.services.notes import NoteError, add_note
from dfdesk.services.results import AnalysisView, load_analysis
from dfdesk.store.database import Database

SECOND_STEP = 10  # frames jumped with Shift+arrow when the frame rate is unknown
# Default splitter shares, as weights: QSplitter shrinks sizes larger than the page in proportion to them.
MAIN_SHARES = [6000, 4000]  # player and timeline | verdict, finding and gallery (never narrower than their minimum)
LEFT_SHARES = [6000, 4000]  # player over timeline
# verdict | finding | gallery: the finding form keeps its minimum height (it never scrolls away), the gallery at
# least a row of legible faces, the verdict's details (a scrolling column) the rest
RIGHT_SHARES = [5500, 100, 4400]


class AnalysisPage(QWidget):
    notes_changed = Signal(int)  # evidence id

    def __init__(self, db: Database, jobs: JobQueue, settings: AppSettings, analyst: Callable[[], str],
                 analysis_id: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.db, self.jobs, self.settings, self.analyst = db, jobs, settings, analyst
        self.analysis_id = analysis_id
        self.view: AnalysisView | None = None
        self.crop_job: Job | None = None
        self.enlarged: EnlargedWindow | None = None
        self.player = PlayerView(self._boxes)
        self.timeline = TimelineView()
        self.gallery = GalleryView()
        self.verdict = VerdictPanel()
        self.face_tracks = FaceTracksBox()
        self._wire()
        self._build()
        self.reload()

    def _wire(self) -> None:
        self.player.position_changed.connect(self.timeline.set_position)
        self.timeline.seek_requested.connect(self.player.seek)
        self.gallery.seek_requested.connect(self.player.seek)
        self.verdict.note_submitted.connect(self.save_finding)
        self.player.enlarge_requested.connect(self.toggle_enlarged)
        for keys, action in self._keys().items():
            shortcut = QShortcut(QKeySequence(keys), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)

    def _keys(self) -> dict:
        """The player's keys (help_menu.ANALYSIS_PAGE_KEYS lists them), bound on the page and the enlarged player."""
        return {"Space": self.player.toggle_play, "Left": lambda: self.player.step(-1),
                "Right": lambda: self.player.step(1), "Shift+Left": lambda: self.player.step(-self._second()),
                "Shift+Right": lambda: self.player.step(self._second()), "Home": lambda: self.player.seek(0),
                "End": lambda: self.player.seek(10**9)}

    def _build(self) -> None:
        self.left = _splitter(Qt.Orientation.Vertical, self.player, self.timeline)
        self.left.setSizes(LEFT_SHARES)
        self.finding = finding_box(self.verdict)
        self.right = _splitter(Qt.Orientation.Vertical, _scrolling(_column(self.verdict, self.face_tracks)),
                               self.finding, self.gallery)
        self.right.setSizes(RIGHT_SHARES)
        self.right.setCollapsible(1, False)  # the finding form is never dragged out of sight
        self.splitter = _splitter(Qt.Orientation.Horizontal, self.left, self.right)
        self.splitter.setSizes(MAIN_SHARES)
        for key, splitter in self._splitters().items():
            if (state := self.settings.layout(key)) is not None:
                splitter.restoreState(state)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.splitter)

    def toggle_enlarged(self) -> None:
        """Show the player full screen, or put it back in the page."""
        if self.enlarged is not None:
            self.enlarged.give_back()
            return
        self.enlarged = EnlargedWindow(self.player, self.left, f"Player · {self.title}", self._keys(), self)
        self.enlarged.returned.connect(self._player_returned)
        self.player.set_enlarged(True)
        self.enlarged.showFullScreen()

    def _player_returned(self) -> None:
        self.enlarged = None
        self.player.set_enlarged(False)

    def _splitters(self) -> dict[str, QSplitter]:
        # "-v2": layouts saved before the gallery strip gave it too little room; they are not restored
        # "-v3": the finding form became a pane of its own (older right-column states had two panes)
        return {"analysis/main-v2": self.splitter, "analysis/left": self.left, "analysis/right-v3": self.right}

    def save_layout(self) -> None:
        for key, splitter in self._splitters().items():
            self.settings.save_layout(key, splitter.saveState())

    @property
    def title(self) -> str:
        name = self.view.evidence.file_name if self.view else "analysis"
        return f"{name} · #{self.analysis_id}"

    def reload(self) -> None:
        with self.db.unit_of_work() as session:
            self.view = load_analysis(session, self.analysis_id)
        self.timeline.show_analysis(self.view)
        self.verdict.show_analysis(self.view)
        self.face_tracks.show_analysis(self.view)
        items = gallery_items(self.view)
        self.gallery.show_items(items, curve_names(self.view), frame_scores(self.view))
        self._open_video()
        self._load_faces(items)

    def _open_video(self) -> None:
        try:
            source = FrameSource(self.view.evidence.video, self.view.settings.get("stream_index"))
        except (VideoError, OSError) as exc:
            self.player.show_problem(f"The evidence file cannot be shown:\n{exc}")
            return
        self.player.open(source, self.view.evidence.video.fps, self.view.evidence.sha256, self.view.evidence.file_name)

    def _load_faces(self, items) -> None:
        if not items or self.player.source is None:
            return
        info = self.view.evidence.video
        wanted = [(i.track_index, i.frame_index, i.box, next(iter(i.heatmaps), "")) for i in items]
        scored = ScoredCrops.of_analysis(self.view.evidence.sha256, self.view.settings, self.view.models)
        self.crop_job = self.jobs.submit(f"Face crops of {self.view.evidence.file_name}",
                                         lambda ctx: face_crops(info, wanted, scored, ctx.is_cancelled))
        self.crop_job.event.connect(self._on_crop)

    def _on_crop(self, crop: object) -> None:
        if isinstance(crop, FaceCrop):
            self.gallery.set_face(crop.track_index, crop.frame_index, crop.image, crop.pts, crop.check)

    def _boxes(self, frame_index: int):
        return boxes_at(self.view, frame_index) if self.view else []

    def _second(self) -> int:
        fps = self.view.evidence.video.fps if self.view else 0
        return max(1, round(fps)) if fps > 0 else SECOND_STEP

    def save_finding(self, text: str, conclusion: str | None) -> None:
        try:
            with self.db.unit_of_work() as session:
                add_note(session, self.view.evidence.id, self.analyst(), text, conclusion, self.analysis_id)
        except NoteError as exc:
            dialogs.show_error(self, "Finding not saved", str(exc))
            return
        with self.db.unit_of_work() as session:
            self.verdict.show_notes(load_analysis(session, self.analysis_id).notes)
        self.verdict.clear_finding()
        self.notes_changed.emit(self.view.evidence.id)

    def has_unsaved_finding(self) -> bool:
        """True when the finding form holds text or a conclusion that was not saved."""
        return bool(self.verdict.note_edit.toPlainText().strip()) or self.verdict.chosen_conclusion() is not None

    def confirm_close(self) -> bool:
        """True when the page may close: nothing unsaved, or the analyst chose to discard it."""
        return not self.has_unsaved_finding() or dialogs.ask(
            self, "Unsaved finding", f"Your finding on {self.title} is not saved. Close it and discard the finding?")

    def shutdown(self) -> None:
        """Stop what this page started: playback, the decoder and the face-crop job; the player comes back."""
        if self.enlarged is not None:
            self.enlarged.give_back()
        self.save_layout()
        if self.crop_job is not None and self.crop_job.state in ("queued", "running"):
            self.jobs.cancel(self.crop_job)
        self.player.close_source()


def finding_box(panel: VerdictPanel) -> QWidget:
    """The verdict panel's "Your finding" group (conclusion, note, save button, saved notes), which the page lays
    out as a pane of its own; reparented there, it keeps its connections to the panel."""
    return panel.note_edit.parentWidget()


def _splitter(orientation: Qt.Orientation, *widgets: QWidget) -> QSplitter:
    splitter = QSplitter(orientation)
    for widget in widgets:
        splitter.addWidget(widget)
    return splitter


def _column(*widgets: QWidget) -> QWidget:
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return column


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
