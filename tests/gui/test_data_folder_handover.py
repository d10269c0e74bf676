"""The data folder chosen in the desktop's Settings is passed on explicitly: to dfdesk.paths (the process's
environment is left as it was), to the trainer the wizard starts (in that child's environment) and to the batch
workers it spawns (as an argument of their start-up)."""
from __future__ import annotations

import os
from multiprocessing import get_context
from pathlib import Path

import pytest

from dfdesk import paths
from dfdesk.gui.app import apply_data_folder
from dfdesk.gui.settings import Analyst
from dfdesk.gui.trainer_wizard import TrainerWizard
from dfdesk.services import batch_local


@pytest.fixture
def chosen_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings):
    """Settings naming a data folder, applied with $DFDESK_DATA_DIR unset; the choice is undone afterwards."""
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    folder = tmp_path / "chosen data"
    settings.data_folder = str(folder)
    apply_data_folder(settings)
    yield folder
    paths.choose_data_dir(None)


def test_the_settings_folder_reaches_paths_without_touching_the_environment(chosen_folder: Path) -> None:
    assert paths.user_data_dir() == chosen_folder
    assert paths.default_database_path().parent == chosen_folder
    assert paths.DATA_DIR_ENV not in os.environ


def test_the_environment_still_wins_over_the_settings(chosen_folder: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "from the environment"))
    assert paths.user_data_dir() == tmp_path / "from the environment"


def test_the_trainer_process_gets_the_folder_in_its_environment(chosen_folder: Path, qtbot, tmp_path: Path) -> None:
    wizard = TrainerWizard(None, analyst=Analyst("anna", "admin"), db_path=tmp_path / "cases.sqlite")
    qtbot.addWidget(wizard)
    assert wizard.child_environment().value(paths.DATA_DIR_ENV) == str(chosen_folder)


def test_a_spawned_batch_worker_uses_the_parent_folder(chosen_folder: Path) -> None:
    context = get_context("spawn")
    stage = batch_local._Stage(1, context, context.Event(), 1)
    try:
        assert stage._pool.submit(paths.user_data_dir).result(timeout=120) == chosen_folder
    finally:
        stage._pool.shutdown(wait=True)
