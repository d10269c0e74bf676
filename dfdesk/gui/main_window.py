"""The main window: cases on the left, the open case's evidence and analysis tabs in the middle,
background jobs at the bottom, the compute device and the analyst in the status bar.

A timer polls SQLite's data_version every two seconds (no table read, no lock) and refreshes the case list and
the evidence table when any connection committed: cases and evidence from the CLI or a batch appear within
seconds."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu, QTabWidget

from dfdesk import __version__
from dfdesk.gui import dialogs, help_menu, tasks
from dfdesk.gui.jobs import Job, JobQueue
from dfdesk.gui.report_done import show_report_written
from dfdesk.gui.settings import Analyst, AppSettings
from dfdesk.gui.views.analysis_view import AnalysisPage
from dfdesk.gui.views.case_browser import CaseBrowser
from dfdesk.gui.views.evidence_table import EvidencePage
from dfdesk.gui.views.jobs_panel import JobsPanel
from dfdesk.gui.views.model_manager import ModelManager
from dfdesk.gui.views.settings_dialog import SettingsDialog
from dfdesk.gui.views.triage_view import TriagePage
from dfdesk.services import cases as case_service
from dfdesk.services.analysis import AnalysisRequest, video_streams_of
from dfdesk.services.batch import BatchOptions, run_batch
from dfdesk.services.devices import device_description
from dfdesk.services.report_names import suggested_name_for
from dfdesk.services.results import ResultNotFound
from dfdesk.store.database import Database

ADMIN_ONLY = "Needs the admin role: Settings → Role → admin (profile login)"
DATABASE_POLL_MS = 2000  # how soon another process's changes show
JOBS_DOCK_HEIGHT = 120  # first start: the newest job and the one before it in view
DEFAULT_SIZE = QSize(1366, 768)
FRAME_ALLOWANCE = QSize(16, 40)  # the window manager's title bar and borders, before the window is shown


def ask_report_path(parent, suggested: str) -> Path | None:
    out, _ = QFileDialog.getSaveFileName(parent, "Export report", suggested, "PDF (*.pdf)")
    return Path(out) if out else None


def ask_batch_folder(parent) -> Path | None:
    folder = QFileDialog.getExistingDirectory(parent, "Analyse a folder")
    return Path(folder) if folder else None


class MainWindow(QMainWindow):
    ask_report_path = staticmethod(ask_report_path)  # replaceable (tests, scripted use)
    ask_batch_folder = staticmethod(ask_batch_folder)

    def __init__(self, db: Database, settings: AppSettings, jobs: JobQueue):
        super().__init__()
        self.db, self.settings, self.jobs = db, settings, jobs
        self.analyst = Analyst(settings.analyst_name)
        self.setWindowTitle(f"dfdesk {__version__}")
        self.resize(DEFAULT_SIZE)
        self.cases = CaseBrowser(db, self.analyst_name)
        self.evidence = EvidencePage(db, jobs, self.analyst_name)
        self.jobs_panel = JobsPanel(jobs)
        self.tabs = QTabWidget()
        self.tabs.setTabsClosable(True)
        self.tabs.setDocumentMode(True)
        self.device_label, self.analyst_label = QLabel(), QLabel()
        self._build()
        self._wire()
        self._create_actions()
        self._restore_layout()
        self._show_identity()
        self._follow_database()

    def analyst_name(self) -> str:
        return self.analyst.name

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.tabs.addTab(self.evidence, "Evidence")
        self.tabs.tabBar().setTabButton(0, self.tabs.tabBar().ButtonPosition.RightSide, None)
        self.setCentralWidget(self.tabs)
        self.case_dock = self._dock("Cases", "cases", self.cases, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", "jobs", self.jobs_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.statusBar().addPermanentWidget(self.analyst_label)
        self.statusBar().addPermanentWidget(self.device_label)

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        self.cases.case_opened.connect(self.open_case)
        self.cases.cases_changed.connect(self.evidence.refresh)
        self.evidence.analyse_requested.connect(self.analyse)
        self.evidence.analysis_opened.connect(self.open_analysis)
        self.evidence.resume_requested.connect(self.resume)
        self.cases.analyse_all_requested.connect(self.analyse_all)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.jobs.job_added.connect(self._watch_job)

    def _create_actions(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_case_action = self._action(file_menu, "&New case…", "Ctrl+N", self.cases.ask_create)
        self.add_action = self._action(file_menu, "&Add videos…", QKeySequence.StandardKey.Open,
                                       self.evidence.choose_files)
        self.batch_action = self._action(file_menu, "Analyse a &folder…", "", self.choose_batch_folder)
        self.export_action = self._action(file_menu, "&Export report…", "Ctrl+E", self.export_report)
        self.recent_menu = file_menu.addMenu("&Recent cases")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        tools = self.menuBar().addMenu("&Tools")
        self.models_action = self._action(tools, "&Models…", "", self.open_models)
        self._action(tools, "&Settings…", QKeySequence.StandardKey.Preferences, self.open_settings)
        view = self.menuBar().addMenu("&View")
        view.addAction(self.case_dock.toggleViewAction())
        view.addAction(self.jobs_dock.toggleViewAction())
        self.help_menu = help_menu.HelpMenu(self)
        self.menuBar().addMenu(self.help_menu)

    def _action(self, menu: QMenu, text: str, keys, slot) -> QAction:
        action = QAction(text, self)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _restore_layout(self) -> None:
        if (geometry := self.settings.layout("main/geometry")) is not None:
            self.restoreGeometry(geometry)
        self.fit_to_screen()
        if (state := self.settings.layout("main/state")) is not None:
            self.restoreState(state)
        else:  # first start: a jobs strip showing two jobs, a narrow case list
            self.resizeDocks([self.jobs_dock], [JOBS_DOCK_HEIGHT], Qt.Orientation.Vertical)
            self.resizeDocks([self.case_dock], [240], Qt.Orientation.Horizontal)

    def fit_to_screen(self) -> None:
        """Keep the whole window, its frame and status bar included, inside the screen's available area (a
        1366x768 laptop, a 1080p screen at 150 %, a layout saved on a larger screen)."""
        if self.screen() is None:
            return
        room = self.screen().availableGeometry()
        self.resize(self.size().boundedTo(room.size() - FRAME_ALLOWANCE))
        right = room.right() + 1 - self.width() - FRAME_ALLOWANCE.width()  # move() places the frame's corner
        bottom = room.bottom() + 1 - self.height() - FRAME_ALLOWANCE.height()
        self.move(max(room.left(), min(self.x(), right)), max(room.top(), min(self.y(), bottom)))

    def _show_identity(self) -> None:
        try:
            device = device_description(self.settings.device)
        except ValueError as exc:
            device = f"device problem: {exc}"
        self.device_label.setText(f"Device: {device}")
        self.device_label.setToolTip("Where the detectors run (Settings → Device)")
        self.analyst_label.setText(f"{self.analyst.name} ({self.analyst.role})")
        self.models_action.setEnabled(self.analyst.is_admin)
        self.models_action.setToolTip("Installed models and the ensemble" if self.analyst.is_admin else ADMIN_ONLY)
        self.models_action.setStatusTip(self.models_action.toolTip())

    # --- following the database ------------------------------------------------------------------
    def _follow_database(self) -> None:
        self._watch = case_service.change_watch_connection(self.db)
        self._seen_version = case_service.data_version(self._watch)
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(DATABASE_POLL_MS)
        self.poll_timer.timeout.connect(self.poll_database)
        self.poll_timer.start()

    def poll_database(self) -> bool:
        """Refresh the case list and the evidence table when the database changed since the last poll."""
        version = case_service.data_version(self._watch)
        if version == self._seen_version:
            return False
        self._seen_version = version
        self.cases.refresh()
        self.evidence.refresh()
        return True

    # --- cases and analyses ----------------------------------------------------------------------
    def open_case(self, case_id: int) -> None:
        self.evidence.show_case(case_id)
        self.cases.select(case_id)
        self.settings.remember_case(case_id)
        self.tabs.setCurrentWidget(self.evidence)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        names = {row.id: row.name for row in self.cases.rows()}
        for case_id in self.settings.recent_cases:
            if case_id in names:
                action = self.recent_menu.addAction(names[case_id])
                action.triggered.connect(lambda _=False, c=case_id: self.open_case(c))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def open_analysis(self, analysis_id: int) -> AnalysisPage | None:
        for index in range(1, self.tabs.count()):
            page = self.tabs.widget(index)
            if page.analysis_id == analysis_id:
                self.tabs.setCurrentIndex(index)
                return page
        try:
            page = AnalysisPage(self.db, self.jobs, self.settings, self.analyst_name, analysis_id)
        except ResultNotFound as exc:  # deleted meanwhile, or saved by a newer dfdesk
            dialogs.show_error(self, "Cannot open the analysis", str(exc))
            return None
        page.notes_changed.connect(lambda _evidence: self.evidence.refresh())
        self.tabs.setCurrentIndex(self.tabs.addTab(page, page.title))
        self.tabs.setTabToolTip(self.tabs.currentIndex(), page.view.evidence.path if page.view else "")
        return page

    def close_tab(self, index: int) -> bool:
        """Close an analysis or triage tab; an analysis page with an unsaved finding asks first."""
        page = self.tabs.widget(index)
        if isinstance(page, AnalysisPage) and not page.confirm_close():
            return False
        self._remove_tab(index)
        return True

    def _remove_tab(self, index: int) -> None:
        page = self.tabs.widget(index)
        if isinstance(page, AnalysisPage | TriagePage):
            page.shutdown()
            self.tabs.removeTab(index)
            page.deleteLater()

    def unsaved_findings(self) -> list[AnalysisPage]:
        """The analysis pages whose finding form holds text not saved."""
        pages = (self.tabs.widget(index) for index in range(1, self.tabs.count()))
        return [page for page in pages if isinstance(page, AnalysisPage) and page.has_unsaved_finding()]

    def current_analysis(self) -> AnalysisPage | None:
        page = self.tabs.currentWidget()
        return page if isinstance(page, AnalysisPage) else None

    def analyse(self, evidence_ids: list[int]) -> list[Job]:
        if self.settings.enabled_models == ():
            dialogs.show_error(self, "No model enabled", "Enable at least one model in Tools → Models.")
            return []
        request = tasks.analysis_request(self.settings.enabled_models, self.settings.frames, self.settings.sampling,
                                         self.settings.device)
        jobs = []
        for evidence_id in evidence_ids:
            stream = self._stream_to_analyse(evidence_id)
            if stream is not False:  # False: the analyst cancelled the choice of stream
                jobs.append(self._submit_analysis(evidence_id, replace(request, stream=stream)))
        return jobs

    def _stream_to_analyse(self, evidence_id: int) -> int | None | bool:
        """None (the file's default stream) for a file with one video stream; for several, the analyst's choice
        (the default preselected), or False when they cancel."""
        row = next((r for r in self.evidence.model.rows if r.id == evidence_id), None)
        streams = video_streams_of(row.path) if row is not None else []
        if len(streams) < 2:
            return None
        dialog = dialogs.stream_choice(self, row.file_name, streams)
        return dialogs.chosen_stream(dialog, streams) if dialog.exec() else False

    def _submit_analysis(self, evidence_id: int, request) -> Job:
        actor = self.analyst.name
        job = self._analysis_job(f"Analysing {self._file_name(evidence_id)}",
                                 lambda ctx: tasks.run_analysis(self.db, evidence_id, request, actor, ctx))
        self.evidence.track_analysis(evidence_id, job)
        return job

    def resume(self, analysis_id: int) -> Job | None:
        """Finish an interrupted, failed or cancelled analysis in place (the CLI's ``dfdesk resume``)."""
        row = next((r for r in self.evidence.model.rows if r.resumable_id == analysis_id), None)
        actor, name = self.analyst.name, row.file_name if row else f"analysis {analysis_id}"
        job = self._analysis_job(f"Resuming {name}",
                                 lambda ctx: tasks.resume_analysis(self.db, analysis_id, actor, ctx))
        if row is not None:
            self.evidence.track_analysis(row.id, job)
        return job

    def _file_name(self, evidence_id: int) -> str:
        row = next((r for r in self.evidence.model.rows if r.id == evidence_id), None)
        return row.file_name if row else f"evidence {evidence_id}"

    def _analysis_job(self, title: str, work) -> Job:
        job = self.jobs.submit(title, work, gpu=True)
        job.finished.connect(self.evidence.refresh)
        job.done.connect(lambda analysis_id: self.open_analysis(analysis_id) if analysis_id else None)
        return job

    def _watch_job(self, job: Job) -> None:
        job.failed.connect(lambda message, j=job: dialogs.show_error(self, f"{j.title} failed", message))

    # --- batch triage ----------------------------------------------------------------------------
    def analyse_all(self, case_id: int) -> Job:
        """Triage every video of the case not analysed yet, in the job queue, into the case's triage tab."""
        return self.start_batch(case_id, [])

    def choose_batch_folder(self) -> Job | None:
        case = self.evidence.case
        if case is None or case.closed:
            dialogs.show_info(self, "Analyse a folder", "Open a case first: the folder's videos are filed in it.")
            return None
        folder = self.ask_batch_folder(self)
        return self.start_batch(case.id, [folder]) if folder else None

    def start_batch(self, case_id: int, paths: list[Path]) -> Job:
        """The batch of ``paths`` (none: the case's own evidence) with the default ensemble and settings."""
        page = self.open_triage(case_id)
        options = BatchOptions(case=page.case_name, inputs=tuple(str(p) for p in paths), recursive=True,
                               request=AnalysisRequest(device=self.settings.device))
        actor = self.analyst.name
        job = self.jobs.submit(f"Triage of {page.case_name}",
                               lambda ctx: run_batch(self.db, options, actor, cancel=ctx.is_cancelled), gpu=True)
        page.watch(job)
        job.finished.connect(self.evidence.refresh)
        return job

    def open_triage(self, case_id: int) -> TriagePage:
        for index in range(1, self.tabs.count()):
            page = self.tabs.widget(index)
            if isinstance(page, TriagePage) and page.case_id == case_id:
                self.tabs.setCurrentIndex(index)
                return page
        page = TriagePage(self.db, case_id)
        page.analysis_opened.connect(self.open_analysis)
        page.batch_requested.connect(lambda paths, c=case_id: self.start_batch(c, paths))
        self.tabs.setCurrentIndex(self.tabs.addTab(page, page.title))
        return page

    # --- reports, models, settings ---------------------------------------------------------------
    def export_report(self) -> Job | None:
        page = self.current_analysis()
        if page is None:
            dialogs.show_info(self, "Export report", "Open an analysis first: the report describes one analysis.")
            return None
        out = self.ask_report_path(self, suggested_name_for(self.db, page.analysis_id))
        return self.start_export(page.analysis_id, out) if out else None

    def start_export(self, analysis_id: int, out: Path) -> Job:
        actor = self.analyst.name
        job = self.jobs.submit(f"Report {out.name}",
                               lambda ctx: tasks.export_report(self.db, analysis_id, out, actor, ctx))
        job.done.connect(lambda result: show_report_written(self, result))
        return job

    def open_models(self) -> None:
        if not self.analyst.is_admin:
            dialogs.show_error(self, "Models", ADMIN_ONLY)
            return
        ModelManager(self.settings, self.jobs, self, db=self.db, analyst=self.analyst).exec()  # as this admin

    def open_settings(self, credentials=None) -> None:
        dialog = SettingsDialog(self.db, self.settings, self.analyst, parent=self,
                                **({"credentials": credentials} if credentials else {}))
        if dialog.exec():
            self.set_analyst(dialog.analyst)

    def set_analyst(self, analyst: Analyst) -> None:
        self.analyst = analyst
        self._show_identity()

    # --- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if not self._may_quit():
            event.ignore()
            return
        for index in range(self.tabs.count() - 1, 0, -1):
            self._remove_tab(index)
        self.jobs.shutdown()
        self.poll_timer.stop()
        self._watch.close()
        self.settings.save_layout("main/geometry", self.saveGeometry())
        self.settings.save_layout("main/state", self.saveState())
        self.settings.sync()
        event.accept()

    def _may_quit(self) -> bool:
        """Asks about unsaved findings, then about jobs nobody has cancelled; True when the analyst goes on."""
        unsaved = self.unsaved_findings()
        if unsaved and not dialogs.ask(self, "Unsaved findings", "Your finding is not saved on: "
                                       + ", ".join(page.title for page in unsaved) + ". Quit and discard it?"):
            return False
        running = self.jobs.unfinished_count()  # a job already told to stop is not asked about again
        return not running or dialogs.ask(self, "Quit dfdesk", f"{running} background job(s) are still running. "
                                          "Cancel them and quit? Nothing half-done is saved.")
