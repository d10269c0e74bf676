"""Settings: analyst name and role, compute device, default sampling, data folder.

Choosing the admin role asks for a profile login (services.profiles); the role is never stored.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from dfdesk.gui import dialogs
from dfdesk.gui.settings import DEVICES, SAMPLINGS, Analyst, AppSettings
from dfdesk.services.devices import resolve_device
from dfdesk.services.profiles import ProfileError, authenticate
from dfdesk.store.database import Database

Credentials = Callable[[QWidget, str], tuple[str, str] | None]  # (parent, suggested name) -> (profile, password)
DEVICE_WORDS = {"auto": "Automatic (GPU when there is one)", "cpu": "CPU", "cuda": "GPU (CUDA)"}


def ask_credentials(parent: QWidget, name: str) -> tuple[str, str] | None:
    dialog = QDialog(parent)
    dialog.setWindowTitle("Admin login")
    profile, password = QLineEdit(name), QLineEdit()
    password.setEchoMode(QLineEdit.EchoMode.Password)
    form = QFormLayout(dialog)
    form.addRow("Profile", profile)
    form.addRow("Password", password)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)
    return (profile.text(), password.text()) if dialog.exec() == QDialog.DialogCode.Accepted else None


def gpu_available() -> bool:
    try:
        resolve_device("cuda")
    except ValueError:
        return False
    return True


class SettingsDialog(QDialog):
    def __init__(self, db: Database, settings: AppSettings, analyst: Analyst,
                 credentials: Credentials = ask_credentials, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.db, self.settings, self.credentials = db, settings, credentials
        self.analyst = analyst
        self.name = QLineEdit(settings.analyst_name)
        self.name.setToolTip("Recorded with every action in the audit log")
        self.role = _combo(("analyst", "admin"), analyst.role, "Admin needs a profile login and unlocks the "
                           "model manager")
        self.device = _combo(DEVICES, settings.device, "Where the detectors run", DEVICE_WORDS)
        if not gpu_available():
            self.device.model().item(DEVICES.index("cuda")).setEnabled(False)
        self.sampling = _combo(SAMPLINGS, settings.sampling, "How frames are picked for analysis")
        self.frames = QSpinBox()
        self.frames.setRange(1, 10_000)
        self.frames.setValue(settings.frames)
        self.frames.setToolTip("Frames sampled per video (ignored with 'all')")
        self.data_folder = QLineEdit(settings.data_folder)
        self.data_folder.setPlaceholderText("default per-user folder")
        self.data_folder.setToolTip("Where the case database and heat maps live; takes effect after a restart")
        self._build()

    def _build(self) -> None:
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder = QHBoxLayout()
        folder.addWidget(self.data_folder, 1)
        folder.addWidget(browse)
        form = QFormLayout()
        form.addRow("Analyst name", self.name)
        form.addRow("Role", self.role)
        form.addRow("Device", self.device)
        form.addRow("Default sampling", self.sampling)
        form.addRow("Frames per video", self.frames)
        form.addRow("Data folder", folder)
        form.addRow("", QLabel("<small>A new data folder is used from the next start.</small>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_folder.text())
        if folder:
            self.data_folder.setText(folder)

    def apply(self) -> None:
        """Store the choices; an admin role only after a successful profile login."""
        name = self.name.text().strip()
        if not name:
            dialogs.show_error(self, "Settings not saved", "The analyst name cannot be empty.")
            return
        role = self.role.currentData()
        if role == "admin":
            if not self.analyst.is_admin and not self._login(name):
                return
            name = self.analyst.name  # an admin acts under the profile's name
        self.analyst = Analyst(name, role)
        self.settings.analyst_name = self.analyst.name
        self.settings.device = self.device.currentData()
        self.settings.sampling = self.sampling.currentData()
        self.settings.frames = self.frames.value()
        self.settings.data_folder = self.data_folder.text()
        self.accept()

    def _login(self, name: str) -> bool:
        answer = self.credentials(self, name)
        if answer is None:
            return False
        profile, password = answer
        problem, role = "", ""
        with self.db.unit_of_work() as session:  # a failed login is audited too: the error must not roll back
            try:
                role = authenticate(session, profile, password).role
            except ProfileError as exc:
                problem = str(exc)
        if not problem and role != "admin":
            problem = f"profile {profile!r} is not an admin profile"
        if problem:
            dialogs.show_error(self, "Admin login failed", problem)
            return False
        self.name.setText(profile)
        self.analyst = Analyst(profile, "admin")
        return True


def _combo(values, current: str, tooltip: str, words: dict[str, str] | None = None) -> QComboBox:
    combo = QComboBox()
    for value in values:
        combo.addItem((words or {}).get(value, value), value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setToolTip(tooltip)
    return combo
