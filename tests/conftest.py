"""Fixtures shared by every test layer: an isolated data folder, a fresh case database, generated clips."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dfdesk import paths  # noqa: E402
from dfdesk.store.database import Database  # noqa: E402
from tests.fixtures import clips  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own per-user data folder: nothing touches the real one."""
    folder = tmp_path / "userdata"
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(folder))
    monkeypatch.setenv("DFDESK_ANALYST", "test-analyst")
    return folder


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "cases.sqlite")
    yield database
    database.close()


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic clips generated once per test session."""
    folder = tmp_path_factory.mktemp("clips")
    clips.make_face_clip(folder / "face.mp4")
    clips.make_noface_clip(folder / "noface.mp4")
    clips.make_portrait_clip(folder / "portrait.mp4", rotation_cw=90)
    clips.make_vfr_clip(folder / "vfr.mp4")
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = paths.shared_data_dir()
    if folder is None:
        pytest.skip("../shared/data is absent (as on a user's machine): real-material tests skipped")
    return folder
