"""Run a plain generator in a QThread and emit what it yields through signals.

Modelled on superqt's ``thread_worker``: the worker never touches widgets; it checks a
cancel flag between yields; every run ends with exactly one of ``returned`` / ``errored`` /
``cancelled``, then ``finished``.  All signals come from one thread, so they arrive in order.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a job (by ``JobContext.check``) to stop it at a safe point."""


@dataclass(frozen=True)
class JobContext:
    """What a running job may use: the cancel flag and a way to report from inside callbacks."""

    is_cancelled: Callable[[], bool]
    report: Callable[[object], None]

    def check(self) -> None:
        if self.is_cancelled():
            raise JobCancelled()


JobFactory = Callable[[JobContext], Generator]


def readable_error(exc: BaseException) -> str:
    """One or two plain lines for a dialog, never a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or exc.__class__.__name__.replace("_", " ")


def _is_cancellation(exc: BaseException) -> bool:
    return isinstance(exc, JobCancelled) or exc.__class__.__name__ in ("AnalysisCancelled", "Cancelled")


class GeneratorWorker(QObject):
    """Lives in a worker thread; ``run`` drives the generator made by ``factory``."""

    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, factory: JobFactory):
        super().__init__()
        self._factory = factory
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: asks the generator to stop at its next yield."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @Slot()
    def run(self) -> None:
        try:
            self._drive()
        finally:
            self.finished.emit()

    def _drive(self) -> None:
        context = JobContext(self.is_cancelled, self.yielded.emit)
        try:
            generator = self._factory(context)
            while True:
                if self.is_cancelled():
                    generator.close()
                    self.cancelled.emit()
                    return
                self.yielded.emit(next(generator))
        except StopIteration as stop:
            self.returned.emit(stop.value)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
            if self.is_cancelled() or _is_cancellation(exc):
                self.cancelled.emit()
                return
            log.exception("background job failed")
            self.errored.emit(readable_error(exc))
