"""The Help menu: About names the version and the licence of every shipped model as its card states it, the
shortcut list is the one the window and the analysis page actually bind, Documentation opens the docs folder."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QKeySequence, QShortcut

from dfdesk import __version__, paths
from dfdesk.gui import help_menu
from dfdesk.gui.main_window import MainWindow
from dfdesk.gui.views.analysis_view import AnalysisPage
from tests.fixtures.analyses import make_saved_analysis
from tests.gui.conftest import messages


@pytest.fixture
def window(qtbot, db, settings, jobs) -> MainWindow:
    main = MainWindow(db, settings, jobs)
    qtbot.addWidget(main)
    main.show()
    return main


def test_the_help_menu_is_last_with_about_shortcuts_and_documentation(window: MainWindow):
    last = window.menuBar().actions()[-1]
    assert last.text() == "&Help"
    assert [a.text() for a in last.menu().actions()] == ["&About dfdesk", "&Keyboard shortcuts", "&Documentation"]


def test_about_names_the_version_and_each_shipped_model_licence_from_its_card(qtbot, window: MainWindow):
    cards = [tomllib.loads(card.read_text()) for card in sorted(paths.bundled_models_dir().glob("*/card.toml"))]
    assert cards, "the repository ships models"
    window.help_menu.about_action.trigger()
    dialog = window.help_menu.dialog
    assert dialog.isVisible()
    text = dialog.text.toPlainText()
    assert f"dfdesk {__version__}" in text
    for card in cards:
        assert f"\n{card['name']} {card['version']}\n{card['licence']}\n" in text  # a row: model, then licence


def test_the_shortcut_list_is_what_the_window_binds(qtbot, window: MainWindow):
    bound = {(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText), a.text().replace("&", "").rstrip("…"))
             for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    listed = set(help_menu.window_shortcuts(window))
    assert bound and bound <= listed
    assert ("Ctrl+N", "New case") in listed and ("Ctrl+E", "Export report") in listed
    window.help_menu.shortcuts_action.trigger()
    text = window.help_menu.dialog.text.toPlainText()
    assert "New case" in text and "Play / pause" in text


def test_the_analysis_page_keys_in_the_list_are_the_ones_a_page_binds(qtbot, db, jobs, settings, clip_dir: Path):
    page = AnalysisPage(db, jobs, settings, lambda: "erin", make_saved_analysis(db, clip_dir / "face.mp4"))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.crop_job is None or page.crop_job.state == "done", timeout=10_000)
    bound = {s.key().toString() for s in page.findChildren(QShortcut)}
    assert bound == {QKeySequence(keys).toString() for keys in help_menu.ANALYSIS_PAGE_KEYS}
    page.shutdown()


def test_documentation_opens_the_docs_folder_of_the_installation(window: MainWindow, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(help_menu, "open_url", lambda url: opened.append(url) or True)
    window.help_menu.docs_action.trigger()
    assert [Path(url.toLocalFile()) for url in opened] == [paths.install_root() / "docs"]
    assert (paths.install_root() / "docs" / "ARCHITECTURE.md").is_file()


def test_documentation_says_so_when_the_installation_has_none(window: MainWindow, monkeypatch, tmp_path: Path):
    monkeypatch.setattr(paths, "install_root", lambda: tmp_path)
    assert window.help_menu.open_docs() is False
    assert messages() == [f"This installation has no documentation folder ({tmp_path / 'docs'})."]
