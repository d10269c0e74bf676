"""The app's remembered choices (QSettings) and who is working right now.

The role is never persisted: admin rights last for one session and need a profile login.  What that login gave
(:class:`AdminSession`: the installation's grant, and the profile and password the trainer's child process
needs) lives only in memory, on the session's :class:`Analyst`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QByteArray, QSettings

from dfdesk.services.identity import current_analyst
from dfdesk.services.installation import AdminGrant

DEVICES = ("auto", "cpu", "cuda")
MODEL_DEFAULT = "model"  # sampling: each model's own (its card's), as `dfdesk analyze` without --sampling
SAMPLINGS = (MODEL_DEFAULT, "uniform", "random", "every", "all")
RECENT_LIMIT = 8


@dataclass(frozen=True)
class AdminSession:
    """What an admin login gave this GUI session; kept in memory only, never written to QSettings.

    ``profile`` is None on a single-user install (no profile exists: nobody to log in as).  ``password`` is kept
    so that the trainer can run ``dfdesk train --profile NAME`` as this admin (given to the child process
    through DFDESK_PASSWORD, never on its command line).
    """

    grant: AdminGrant
    profile: str | None = None
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Analyst:
    name: str
    role: str = "analyst"  # analyst | admin (admin only after a profile login)
    admin: AdminSession | None = field(default=None, compare=False, repr=False)  # the login, for this session

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AppSettings:
    """Typed access to QSettings; pass a QSettings on an ini file in tests."""

    def __init__(self, store: QSettings | None = None):
        self.store = store or QSettings("dfdesk", "dfdesk")

    def _get(self, key: str, default):
        value = self.store.value(key, default)
        return default if value is None else value

    @property
    def analyst_name(self) -> str:
        return str(self._get("analyst/name", "") or current_analyst())

    @analyst_name.setter
    def analyst_name(self, name: str) -> None:
        self.store.setValue("analyst/name", name.strip())

    @property
    def device(self) -> str:
        value = str(self._get("analysis/device", "auto"))
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("analysis/device", value)

    @property
    def sampling(self) -> str:
        value = str(self._get("analysis/sampling", MODEL_DEFAULT))
        return value if value in SAMPLINGS else MODEL_DEFAULT

    @sampling.setter
    def sampling(self, value: str) -> None:
        self.store.setValue("analysis/sampling", value)

    @property
    def frames(self) -> int:
        """Frames per model; 0: each model's own (its card's), as `dfdesk analyze` without --frames."""
        try:
            return max(0, int(self._get("analysis/frames", 0)))
        except (TypeError, ValueError):
            return 0

    @frames.setter
    def frames(self, value: int) -> None:
        self.store.setValue("analysis/frames", int(value))

    @property
    def data_folder(self) -> str:
        return str(self._get("paths/data_folder", ""))

    @data_folder.setter
    def data_folder(self, value: str) -> None:
        self.store.setValue("paths/data_folder", value.strip())

    @property
    def enabled_models(self) -> tuple[str, ...] | None:
        """The ensemble the analyst chose; None means "the installed default"."""
        if not self.store.contains("models/enabled"):
            return None
        return tuple(_as_list(self.store.value("models/enabled")))

    @enabled_models.setter
    def enabled_models(self, names: tuple[str, ...] | None) -> None:
        if names is None:
            self.store.remove("models/enabled")
        else:
            self.store.setValue("models/enabled", list(names))

    @property
    def recent_cases(self) -> list[int]:
        return [int(v) for v in _as_list(self.store.value("cases/recent")) if str(v).isdigit()]

    def remember_case(self, case_id: int) -> None:
        recent = [case_id] + [c for c in self.recent_cases if c != case_id]
        self.store.setValue("cases/recent", [str(c) for c in recent[:RECENT_LIMIT]])

    def layout(self, key: str) -> QByteArray | None:
        value = self.store.value(f"layout/{key}")
        return value if isinstance(value, QByteArray) else None

    def save_layout(self, key: str, state: QByteArray) -> None:
        self.store.setValue(f"layout/{key}", state)

    def sync(self) -> None:
        self.store.sync()


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
