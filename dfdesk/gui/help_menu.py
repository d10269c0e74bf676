"""The Help menu: About (version, the licences of the shipped models read from their cards), Keyboard shortcuts
(read from the actions the window binds, plus the analysis page's keys) and Documentation (the docs folder of
the installation).

The texts are plain functions so tests can compare them with what the app binds and ships.
"""
from __future__ import annotations

from html import escape
from importlib.metadata import PackageNotFoundError, metadata

from PySide6.QtCore import QSize, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QMainWindow,
    QMenu,
    QStyle,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from dfdesk import __version__, paths
from dfdesk.gui import dialogs
from dfdesk.services import models

# The analysis page's keys (dfdesk/gui/views/analysis_view.py binds them as QShortcuts, which carry no text);
# tests/gui/test_help_menu.py checks this table against the shortcuts a real page binds.
ANALYSIS_PAGE_KEYS = {
    "Space": "Play / pause",
    "Left": "Previous frame",
    "Right": "Next frame",
    "Shift+Left": "One second back",
    "Shift+Right": "One second forward",
    "Home": "First frame",
    "End": "Last frame",
}
# The player's mouse and its enlarged window (not page shortcuts, so listed apart).
PLAYER_GESTURES = {
    "Mouse wheel": "Zoom the player about the cursor",
    "Drag": "Pan a zoomed frame",
    "Esc": "Back from the enlarged player",
}


def open_url(url: QUrl) -> bool:
    """Hands ``url`` to the desktop; replaceable in tests."""
    return QDesktopServices.openUrl(url)


def app_licence() -> str:
    try:
        return metadata("dfdesk")["License-Expression"] or "not stated"
    except PackageNotFoundError:  # a frozen build without package metadata
        return "not stated"


def shipped_models() -> list[models.ModelCard]:
    """The cards of the models bundled with this installation (not those an admin added later)."""
    bundled = paths.bundled_models_dir().resolve()
    return [card for card in models.list_installed()
            if card.path is not None and card.path.resolve().parent == bundled]


def about_html() -> str:
    rows = "".join(f"<tr><td>{escape(card.name)} {escape(card.version)}</td><td>{escape(card.licence or '—')}</td>"
                   f"<td>{escape(card.source or '—')}</td></tr>" for card in shipped_models())
    return (f"<h3>dfdesk {escape(__version__)}</h3>"
            "<p>Offline analysis of videos of people for signs of manipulation.</p>"
            f"<p>Licence of dfdesk: {escape(app_licence())}</p>"
            "<p><b>Shipped models</b> (licence and source as their model cards state):</p>"
            "<table cellspacing='0' cellpadding='3' border='1'><tr><th>Model</th><th>Licence</th><th>Source</th></tr>"
            f"{rows or '<tr><td colspan=3>none installed</td></tr>'}</table>"
            f"<p>Documentation: {escape(str(paths.docs_dir()))}</p>")


def window_shortcuts(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do) for every menu action of ``window`` that has a shortcut, in menu order."""
    found: list[tuple[str, str]] = []
    menus = [top.menu() for top in window.menuBar().actions() if top.menu() is not None]
    for action in (action for menu in menus for action in menu.actions()):
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys and (keys, _plain(action.text())) not in found:
            found.append((keys, _plain(action.text())))
    return found


def shortcuts_html(window: QMainWindow) -> str:
    page_keys = [(QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText), text)
                 for keys, text in ANALYSIS_PAGE_KEYS.items()]
    return (_table("Everywhere", window_shortcuts(window)) + _table("On an analysis page (player)", page_keys)
            + _table("In the player", list(PLAYER_GESTURES.items())))


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><td><b>{escape(keys)}</b></td><td>{escape(text)}</td></tr>" for keys, text in rows)
    return f"<h4>{escape(title)}</h4><table cellpadding='3'>{body}</table>"


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").rstrip(".")


class TextDialog(QDialog):
    """A read-only rich-text dialog with a Close button, sized to show all of its text (it scrolls only when the
    text is taller than most of the screen, at any scaling)."""

    SCREEN_SHARE = 0.85  # the most of the available screen the dialog takes
    TEXT_CHARS = 90  # the text's width in average characters, when the screen has room

    def __init__(self, title: str, html: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(self._fitting_size(buttons.sizeHint().height()))

    def _fitting_size(self, buttons_height: int) -> QSize:
        """The text laid out on a copy of its document at the width the dialog will give it (the browser relays
        out its own document only once shown), so the height is known before the dialog opens."""
        screen = (self.screen() or QGuiApplication.primaryScreen()).availableGeometry()
        margins = self.layout().contentsMargins()
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        chrome_w = margins.left() + margins.right() + scroll_bar
        width = min(int(screen.width() * self.SCREEN_SHARE),
                    self.fontMetrics().averageCharWidth() * self.TEXT_CHARS + chrome_w)
        laid_out = self.text.document().clone(self)
        laid_out.setTextWidth(width - chrome_w)
        chrome_h = margins.top() + margins.bottom() + self.layout().spacing() + buttons_height + 4
        height = int(laid_out.size().height()) + chrome_h
        return QSize(width, min(int(screen.height() * self.SCREEN_SHARE), height))


class HelpMenu(QMenu):
    """Help → About dfdesk, Keyboard shortcuts, Documentation (F1)."""

    def __init__(self, window: QMainWindow):
        super().__init__("&Help", window)
        self.window_ = window
        self.dialog: TextDialog | None = None
        self.about_action = self._add("&About dfdesk", "", self.show_about)
        self.shortcuts_action = self._add("&Keyboard shortcuts", "Ctrl+/", self.show_shortcuts)
        self.docs_action = self._add("&Documentation", QKeySequence.StandardKey.HelpContents, self.open_docs)

    def _add(self, text: str, keys, slot) -> QAction:
        action = QAction(text, self.window_)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def show_about(self) -> TextDialog:
        return self._show("About dfdesk", about_html())

    def show_shortcuts(self) -> TextDialog:
        return self._show("Keyboard shortcuts", shortcuts_html(self.window_))

    def _show(self, title: str, html: str) -> TextDialog:
        dialog = self.dialog = TextDialog(title, html, self.window_)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def open_docs(self) -> bool:
        folder = paths.docs_dir()
        if not folder.is_dir():
            dialogs.show_error(self.window_, "Documentation", f"This installation has no documentation folder "
                               f"({folder}).")
            return False
        if not open_url(QUrl.fromLocalFile(str(folder))):
            dialogs.show_error(self.window_, "Documentation", f"No program could open {folder}.")
            return False
        return True
