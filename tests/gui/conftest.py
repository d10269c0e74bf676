"""GUI test fixtures: settings on a temporary ini file, a job queue, and a guard against leaked threads."""
from __future__ import annotations

import gc
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QThread
from PySide6.QtWidgets import QApplication

from dfdesk.gui import dialogs
from dfdesk.gui.jobs import JobQueue
from dfdesk.gui.settings import AppSettings


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp):
    """Fails the test if any QThread is still running when it ends."""
    yield
    QApplication.processEvents()
    running = [t for t in gc.get_objects() if issubclass(type(t), QThread) and _is_running(t)]
    assert not running, f"{len(running)} QThread(s) left running after the test"


def _is_running(thread: QThread) -> bool:
    try:
        return thread.isRunning()
    except RuntimeError:  # the C++ object is already gone
        return False


@pytest.fixture(autouse=True)
def close_messages(qapp):
    yield
    for box in dialogs.open_messages():
        box.close()


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return AppSettings(QSettings(str(tmp_path / "dfdesk.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def jobs(qtbot):
    queue = JobQueue()
    yield queue
    assert queue.shutdown(10_000), "a job did not stop within 10 s"


def messages() -> list[str]:
    return [box.text() for box in dialogs.open_messages()]
