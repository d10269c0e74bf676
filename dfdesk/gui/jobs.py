"""The job queue: owns every worker thread, runs one GPU-bound job at a time, waits for them on quit.

A :class:`Job` is the handle views bind to; it lives on the main thread and re-emits what its
worker sends, adding an ETA to progress events.  A job whose generator first yields a ``ProgressPlan`` (an
analysis) also gets the fraction of the whole job done, and its ETA covers every stage left.  Nothing here
touches widgets.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from dfdesk.core.types import Progress
from dfdesk.gui.workers import GeneratorWorker, JobFactory
from dfdesk.services.progress_plan import ProgressPlan, ProgressTracker

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class EtaEstimator:
    """Seconds left in the current stage, from its rate so far (None until it can tell)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._stage: str | None = None
        self._start = (0.0, 0)

    def update(self, progress: Progress) -> float | None:
        now = self._clock()
        if progress.stage != self._stage:
            self._stage, self._start = progress.stage, (now, progress.done)
            return None
        start_time, start_done = self._start
        done_since = progress.done - start_done
        if progress.total <= 0 or done_since <= 0:
            return None
        rate = done_since / max(now - start_time, 1e-6)
        return max(progress.total - progress.done, 0) / rate


@dataclass(frozen=True)
class JobProgress:
    """A progress event as the views see it."""

    stage: str
    done: int
    total: int
    message: str
    eta_s: float | None
    overall: float | None = None  # fraction of the whole job done (0..1) when the job gave its plan, else None


class Job(QObject):
    """One unit of background work.  Exactly one of done / failed / cancelled, then finished."""

    state_changed = Signal(str)
    progress = Signal(object)  # JobProgress
    event = Signal(object)  # any other yielded object (e.g. a detector score)
    done = Signal(object)  # the generator's return value
    failed = Signal(str)  # a readable message
    cancelled = Signal()
    finished = Signal()  # the thread has stopped
    _thread_stopped = Signal()  # internal: re-emitted on the main thread for the queue

    def __init__(self, title: str, factory: JobFactory, gpu: bool):
        super().__init__()
        self.title, self.factory, self.gpu = title, factory, gpu
        self.state = QUEUED
        self.last_progress: JobProgress | None = None
        self.result: object = None
        self.error = ""
        self._eta = EtaEstimator()
        self._tracker: ProgressTracker | None = None
        self._worker: GeneratorWorker | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        self._cancel_requested = True
        if self._worker is not None:
            self._worker.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(state)

    @Slot(object)
    def _on_yield(self, item: object) -> None:
        if isinstance(item, ProgressPlan):
            self._tracker = ProgressTracker(item)
        elif isinstance(item, Progress):
            self.last_progress = self._job_progress(item)
            self.progress.emit(self.last_progress)
        else:
            self.event.emit(item)

    def _job_progress(self, item: Progress) -> JobProgress:
        """The event as views see it: over the whole plan when there is one, else the stage's own ETA."""
        if self._tracker is None:
            return JobProgress(item.stage, item.done, item.total, item.message, self._eta.update(item))
        overall, eta = self._tracker.update(item)
        return JobProgress(item.stage, item.done, item.total, item.message, eta, overall)

    @Slot(object)
    def _on_return(self, value: object) -> None:
        self.result = value
        self._set_state(DONE)
        self.done.emit(value)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        self.error = message
        self._set_state(FAILED)
        self.failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._thread_stopped.emit()

    @Slot()
    def _on_cancel(self) -> None:
        self._set_state(CANCELLED)
        self.cancelled.emit()


class JobQueue(QObject):
    """Starts jobs in their own QThreads; GPU-bound jobs wait for each other."""

    job_added = Signal(object)
    job_finished = Signal(object)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._waiting_gpu: deque[Job] = deque()
        self._running: dict[Job, tuple[QThread, GeneratorWorker]] = {}

    def submit(self, title: str, factory: JobFactory, gpu: bool = False) -> Job:
        job = Job(title, factory, gpu)
        if gpu and self._gpu_busy():
            self._waiting_gpu.append(job)
        else:
            self._start(job)
        self.job_added.emit(job)
        return job

    def jobs(self) -> list[Job]:
        return list(self._running) + list(self._waiting_gpu)

    def active_count(self) -> int:
        return len(self._running) + len(self._waiting_gpu)

    def unfinished_count(self) -> int:
        """Running or waiting jobs nobody has asked to cancel: what quitting would interrupt."""
        return sum(1 for job in self.jobs() if not job.cancel_requested)

    def cancel(self, job: Job) -> None:
        if job in self._waiting_gpu:
            self._waiting_gpu.remove(job)
            job._on_cancel()
            self._finish(job)
        else:
            job.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel everything and wait for the threads; True when all of them stopped."""
        for job in list(self._waiting_gpu):
            self.cancel(job)
        for job in list(self._running):
            job.cancel()
        stopped = True
        for job, (thread, _worker) in list(self._running.items()):
            stopped = thread.wait(timeout_ms) and stopped
            if not thread.isRunning():
                QCoreApplication.sendPostedEvents(job)  # deliver its last signals before "finished"
                self._on_thread_finished(job)
        return stopped

    def _gpu_busy(self) -> bool:
        return any(job.gpu for job in self._running)

    def _start(self, job: Job) -> None:
        thread, worker = QThread(), GeneratorWorker(job.factory)
        worker.moveToThread(thread)
        job._worker = worker
        if job.cancel_requested:
            worker.cancel()
        worker.yielded.connect(job._on_yield)
        worker.returned.connect(job._on_return)
        worker.errored.connect(job._on_error)
        worker.cancelled.connect(job._on_cancel)
        worker.finished.connect(thread.quit, Qt.DirectConnection)  # thread-safe; never waits for the GUI loop
        worker.finished.connect(worker.deleteLater)
        thread.started.connect(worker.run)
        thread.finished.connect(job._on_thread_finished)  # a Job slot: runs on the main thread
        job._thread_stopped.connect(lambda j=job: self._on_thread_finished(j))
        self._running[job] = (thread, worker)
        job._set_state(RUNNING)
        thread.start()

    def _on_thread_finished(self, job: Job) -> None:
        entry = self._running.pop(job, None)
        if entry is None:
            return
        thread, _worker = entry
        thread.wait()  # finished was emitted from the thread itself: let it return fully
        job._worker = None
        self._finish(job)
        if job.gpu:
            self._start_next_gpu()

    def _finish(self, job: Job) -> None:
        job.finished.emit()
        self.job_finished.emit(job)

    def _start_next_gpu(self) -> None:
        if self._waiting_gpu and not self._gpu_busy():
            self._start(self._waiting_gpu.popleft())
