"""Background jobs: one row per job with a progress bar, what it is doing, the time left and Cancel."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QVBoxLayout, QWidget

from dfdesk.gui.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job, JobProgress, JobQueue
from dfdesk.gui.presenters import format_eta

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
        if progress.total > 0:
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


class JobsPanel(QWidget):
    def __init__(self, queue: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.queue = queue
        self.rows: list[JobRow] = []
        self.list_layout = QVBoxLayout()
        self.list_layout.addStretch(1)
        self.empty = QLabel("No background jobs.")
        self.clear_button = QPushButton("Clear finished")
        self.clear_button.setToolTip("Remove finished, failed and cancelled jobs from this list")
        self.clear_button.clicked.connect(self.clear_finished)
        holder = QWidget()
        holder.setLayout(self.list_layout)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setMinimumHeight(36)
        top = QHBoxLayout()
        top.addWidget(self.empty, 1)
        top.addWidget(self.clear_button, 0, Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        queue.job_added.connect(self.add_job)

    def add_job(self, job: Job) -> None:
        row = JobRow(job, self.queue)
        self.list_layout.insertWidget(self.list_layout.count() - 1, row)
        self.rows.append(row)
        self.empty.hide()

    def clear_finished(self) -> None:
        for row in [r for r in self.rows if r.job.state in (DONE, FAILED, CANCELLED)]:
            self.rows.remove(row)
            row.deleteLater()
        self.empty.setVisible(not self.rows)
