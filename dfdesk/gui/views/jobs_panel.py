"""Background jobs: one row per job with a progress bar, what it is doing, the time left and Cancel.

The newest job is on top, so what the analyst just started is the row in view; the list never shrinks below
one whole row."""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget

from dfdesk.gui.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job, JobProgress, JobQueue
from dfdesk.gui.presenters import format_eta

BAR_STEPS = 1000  # the bar's range for a job's overall fraction: smooth, and its text still says whole percents
STATE_WORDS = {QUEUED: "waiting for the GPU", RUNNING: "running…", DONE: "done", FAILED: "failed",
               CANCELLED: "cancelled"}


class JobRow(QWidget):
    def __init__(self, job: Job, queue: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.job = job
        self.title = QLabel(job.title)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first progress arrives
        self.status = QLabel(STATE_WORDS[job.state])
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this job at its next safe point; nothing half-done is saved")
        self.cancel_button.clicked.connect(lambda: queue.cancel(job))
        job.progress.connect(self.show_progress)
        job.state_changed.connect(self.show_state)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.title, 2)
        layout.addWidget(self.bar, 3)
        layout.addWidget(self.status, 2)
        layout.addWidget(self.cancel_button)

    def show_progress(self, progress: JobProgress) -> None:
        """The whole job's share when it has a plan (an analysis: the bar never restarts), else the stage's."""
        if progress.overall is not None:
            self.bar.setRange(0, BAR_STEPS)
            self.bar.setValue(round(progress.overall * BAR_STEPS))
        elif progress.total > 0:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        stage = progress.message or progress.stage
        self.status.setText(f"{stage} · {format_eta(progress.eta_s)}")

    def show_state(self, state: str) -> None:
        if state in (DONE, FAILED, CANCELLED):
            self.cancel_button.setEnabled(False)
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if state == DONE else 0)
            self.status.setText(self.job.error if state == FAILED else STATE_WORDS[state])
        elif state in STATE_WORDS:
            self.status.setText(STATE_WORDS[state])


def row_height() -> int:
    """The height of one job row: its tallest widget (the Cancel button) plus the row's margins."""
    return max(QPushButton("Cancel").sizeHint().height(), QProgressBar().sizeHint().height()) + 4


class JobsPanel(QWidget):
    """The job rows (newest first) in a scroll area, with Clear finished beside them (no height spent on it)."""

    def __init__(self, queue: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.rows: list[JobRow] = []
        self.empty = QLabel("No background jobs.")
        self.list_layout = QVBoxLayout()
        self.list_layout.setContentsMargins(0, 0, 0, 0)
        self.list_layout.setSpacing(0)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip("Remove finished, failed and cancelled jobs from this list")
        self.clear_button.clicked.connect(self.clear_finished)
        holder = QWidget()
        holder.setLayout(self.list_layout)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setMinimumHeight(row_height() + 2 * scroll.frameWidth())  # one whole row, never less
        side = QVBoxLayout()
        side.addWidget(self.clear_button)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(scroll, 1)
        layout.addLayout(side)
        queue.job_added.connect(self.add_job)

    def add_job(self, job: Job) -> None:
        """Shows ``job`` on top: the newest first."""
        row = JobRow(job, self.queue)
        self.list_layout.insertWidget(0, row)
        self.rows.insert(0, row)
        self.empty.hide()
        self.scroll.verticalScrollBar().setValue(0)

    def clear_finished(self) -> None:
        for row in [r for r in self.rows if r.job.state in (DONE, FAILED, CANCELLED)]:
            self.rows.remove(row)
            row.deleteLater()
        self.empty.setVisible(not self.rows)
