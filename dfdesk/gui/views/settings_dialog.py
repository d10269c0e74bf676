"""Settings: analyst name and role, compute device, default sampling, data folder.

Choosing the admin role logs in through :mod:`dfdesk.services.authorization` (the rule the CLI follows too);
the grant it returns is kept for this session on the :class:`~dfdesk.gui.settings.Analyst`, never stored.  On a
single-user install (no profile anywhere) the dialog offers to create the installation's first admin profile
instead, or to go on as the single user without one.
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
from dfdesk.gui.settings import DEVICES, MODEL_DEFAULT, SAMPLINGS, AdminSession, Analyst, AppSettings
from dfdesk.services import authorization
from dfdesk.services.devices import resolve_device
from dfdesk.services.profiles import ProfileError
from dfdesk.store.database import Database

SINGLE_USER = "single user"  # the first-admin question's answer "go on without a profile"
FirstAdminAnswer = tuple[str, str, str] | str | None  # (name, password, password again) | SINGLE_USER | cancelled
Credentials = Callable[[QWidget, str], tuple[str, str] | None]  # (parent, suggested name) -> (profile, password)
FirstAdmin = Callable[[QWidget, str], FirstAdminAnswer]  # (parent, suggested name) -> answer
ADMIN_ACTION = "acting as admin"
DEVICE_WORDS = {"auto": "Automatic (GPU when there is one)", "cpu": "CPU", "cuda": "GPU (CUDA)"}
FIRST_ADMIN_TEXT = ("No profile exists on this installation yet. Create its first admin profile: from then on, "
                    "installing and training models needs that profile's password. Or go on as the single user "
                    "without a profile (nothing then protects the models folder).")


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


def ask_first_admin(parent: QWidget, name: str) -> FirstAdminAnswer:
    """Name and password (twice) of the first admin profile, SINGLE_USER, or None when cancelled."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Create the first admin profile")
    text = QLabel(FIRST_ADMIN_TEXT)
    text.setWordWrap(True)
    profile, password, again = QLineEdit(name), QLineEdit(), QLineEdit()
    for box in (password, again):
        box.setEchoMode(QLineEdit.EchoMode.Password)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create profile")
    without = buttons.addButton("Go on without a profile", QDialogButtonBox.ButtonRole.ActionRole)
    without.clicked.connect(lambda: dialog.done(2))
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow(text)
    form.addRow("Profile name", profile)
    form.addRow("Password", password)
    form.addRow("Password again", again)
    form.addRow(buttons)
    result = dialog.exec()
    if result == 2:
        return SINGLE_USER
    return (profile.text().strip(), password.text(), again.text()) if result == QDialog.DialogCode.Accepted else None


def gpu_available() -> bool:
    try:
        resolve_device("cuda")
    except ValueError:
        return False
    return True


class SettingsDialog(QDialog):
    def __init__(self, db: Database, settings: AppSettings, analyst: Analyst,
                 credentials: Credentials = ask_credentials, parent: QWidget | None = None,
                 first_admin: FirstAdmin = ask_first_admin):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.db, self.settings, self.credentials, self.first_admin = db, settings, credentials, first_admin
        self.analyst = analyst
        self.name = QLineEdit(settings.analyst_name)
        self.name.setToolTip("Recorded with every action in the audit log")
        self.role = _combo(("analyst", "admin"), analyst.role, "Admin needs a profile login and unlocks the "
                           "model manager")
        self.device = _combo(DEVICES, settings.device, "Where the detectors run", DEVICE_WORDS)
        if not gpu_available():
            self.device.model().item(DEVICES.index("cuda")).setEnabled(False)
        self.sampling = _combo(SAMPLINGS, settings.sampling, "How frames are picked for analysis",
                               {MODEL_DEFAULT: "each model's own"})
        self.frames = QSpinBox()
        self.frames.setRange(0, 10_000)
        self.frames.setSpecialValueText("each model's own")  # 0: the same frames as dfdesk analyze by default
        self.frames.setValue(settings.frames)
        self.frames.setToolTip("Frames sampled per video and model (ignored with 'all')")
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
        """Store the choices; an admin role only after a successful admin login (or first-admin creation)."""
        name = self.name.text().strip()
        if not name:
            dialogs.show_error(self, "Settings not saved", "The analyst name cannot be empty.")
            return
        if self.role.currentData() == "admin":
            admin = self.analyst if self.analyst.is_admin else self._admin_login(name)
            if admin is None:
                return
            self.analyst = admin  # an admin acts under the profile's name
        else:
            if self.analyst.is_admin:
                authorization.sign_out()  # the admin's login ends with the role
            self.analyst = Analyst(name)
        self.settings.analyst_name = self.analyst.name
        self.settings.device = self.device.currentData()
        self.settings.sampling = self.sampling.currentData()
        self.settings.frames = self.frames.value()
        self.settings.data_folder = self.data_folder.text()
        self.accept()

    def _admin_login(self, name: str) -> Analyst | None:
        """The admin analyst after a login, or None (refused with one message, or cancelled)."""
        if not authorization.login_needed(self.db):
            return self._single_user_admin(name)
        answer = self.credentials(self, name)
        if answer is None:
            return None
        profile, password = answer
        try:
            actor, grant = authorization.authorize_admin(self.db, profile, password, ADMIN_ACTION)
        except ProfileError as exc:
            dialogs.show_error(self, "Admin login failed", str(exc))
            return None
        return self._signed_in(actor, AdminSession(grant, profile, password))

    def _single_user_admin(self, name: str) -> Analyst | None:
        """Nobody has a profile yet: create the first admin profile, or act as the single user without one."""
        answer = self.first_admin(self, name)
        if answer is None:
            return None
        if answer == SINGLE_USER:
            _actor, grant = authorization.authorize_admin(self.db, None, None, ADMIN_ACTION)
            return Analyst(name, "admin", AdminSession(grant))
        profile, password, again = answer
        if password != again:
            dialogs.show_error(self, "First admin not created", "The two passwords differ.")
            return None
        try:
            actor, grant = authorization.create_first_admin(self.db, profile, password)
        except ProfileError as exc:
            dialogs.show_error(self, "First admin not created", str(exc))
            return None
        return self._signed_in(actor, AdminSession(grant, profile, password))

    def _signed_in(self, profile: str, session: AdminSession) -> Analyst:
        self.name.setText(profile)
        return Analyst(profile, "admin", session)


def _combo(values, current: str, tooltip: str, words: dict[str, str] | None = None) -> QComboBox:
    combo = QComboBox()
    for value in values:
        combo.addItem((words or {}).get(value, value), value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.setToolTip(tooltip)
    return combo
