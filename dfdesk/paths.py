"""The only place that resolves resources/, models/, docs/ and the per-user data directory,
both in the source tree and in a frozen (PyInstaller) build."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "dfdesk"
DATA_DIR_ENV = "DFDESK_DATA_DIR"  # overrides the per-user data directory (tests, portable installs)
SHARED_DATA_ENV = "DFDESK_SHARED_DATA"  # where tests and benchmarks find ../shared/data


def is_frozen() -> bool:
    """True in the PyInstaller bundle (then e.g. DataLoader workers default to 0)."""
    return bool(getattr(sys, "frozen", False))


def install_root() -> Path:
    """The folder holding resources/ and models/: the bundle in a frozen app, the repository otherwise."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    return install_root() / "resources"


def resource(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def bundled_models_dir() -> Path:
    return install_root() / "models"


def docs_dir() -> Path:
    """The documentation folder (docs/: architecture, pipeline, detectors, trainer) that the Help menu opens: in
    the repository from a checkout, in the bundle of a frozen build (pyinstaller.spec ships it as data)."""
    return install_root() / "docs"


_chosen_data_dir: Path | None = None  # set by choose_data_dir, never through the environment


def choose_data_dir(folder: str | os.PathLike | None) -> None:
    """The data folder of this process when ``$DFDESK_DATA_DIR`` is not set (None: the per-user default).  The
    desktop passes the one chosen in its Settings here once at start, and hands the folder in use on to every
    process it starts (batch workers, the trainer) as an argument or in that process's environment."""
    global _chosen_data_dir
    _chosen_data_dir = Path(folder) if folder else None


def user_data_dir() -> Path:
    """``$DFDESK_DATA_DIR`` when set, else the folder given to :func:`choose_data_dir`, else the per-user one."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override)
    else:
        path = _chosen_data_dir or Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_models_dir() -> Path:
    path = user_data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_path() -> Path:
    return user_data_dir() / "cases.sqlite"


def cache_dir() -> Path:
    path = user_data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout, when present (tests, benchmarks, evaluation)."""
    override = os.environ.get(SHARED_DATA_ENV)
    candidates = [Path(override)] if override else []
    candidates.append(install_root().parent / "shared" / "data")
    return next((p for p in candidates if p.is_dir()), None)
