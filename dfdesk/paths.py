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


def user_data_dir() -> Path:
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
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
