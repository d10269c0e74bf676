"""Data set adapters: each reads one layout into :class:`VideoRecord` s plus a list of problems found.

``load_dataset(kind, root, **options)`` dispatches by kind; ``detect_dataset_kind(root)`` guesses it.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path

from trainer.datasets.celebdf import LIST_NAME, load_celebdf
from trainer.datasets.deepfakebench import iter_video_entries, load_deepfakebench
from trainer.datasets.dfdc import METADATA, load_dfdc
from trainer.datasets.ffpp import FAKE_DIR, REAL_DIR, load_ffpp
from trainer.datasets.folders import label_roots, load_folders
from trainer.datasets.records import DatasetError, DatasetReport, Problem, VideoRecord
from trainer.datasets.txtlist import load_txt_list

__all__ = ["ADAPTERS", "DatasetError", "DatasetReport", "Problem", "VideoRecord", "detect_dataset_kind",
           "load_dataset"]

ADAPTERS: dict[str, Callable[..., DatasetReport]] = {
    "ffpp": load_ffpp,
    "celebdf": load_celebdf,
    "dfdc": load_dfdc,
    "deepfakebench": load_deepfakebench,
    "folders": load_folders,
    "txtlist": load_txt_list,
}


def load_dataset(kind: str, root: str | Path, **options) -> DatasetReport:
    """Read the data set at ``root`` with the adapter named ``kind`` (see :data:`ADAPTERS`)."""
    if kind not in ADAPTERS:
        raise DatasetError(f"unknown data set kind {kind!r}; choose one of {sorted(ADAPTERS)}")
    if not Path(root).exists():
        raise DatasetError(f"data set path {root} does not exist")
    adapter = ADAPTERS[kind]
    try:
        inspect.signature(adapter).bind(Path(root), **options)
    except TypeError as exc:
        raise DatasetError(f"bad option for the {kind} adapter: {exc}") from exc
    return adapter(Path(root), **options)


def detect_dataset_kind(root: str | Path) -> str:
    """Guess the adapter for ``root`` from its layout; raises DatasetError when nothing fits."""
    root = Path(root)
    if root.is_file():
        return _kind_of_file(root)
    if not root.is_dir():
        raise DatasetError(f"data set path {root} does not exist")
    if (root / REAL_DIR).is_dir() or (root / FAKE_DIR).is_dir():
        return "ffpp"
    if (root / LIST_NAME).is_file() or (root / "Celeb-synthesis").is_dir():
        return "celebdf"
    if (root / METADATA).is_file() or any(root.glob(f"*/{METADATA}")):
        return "dfdc"
    if label_roots(root):
        return "folders"
    if any(_is_deepfakebench(p) for p in root.glob("*.json")):
        return "deepfakebench"
    raise DatasetError(f"cannot tell the layout of {root}: expected FF++, Celeb-DF, DFDC, DeepfakeBench JSON, "
                       "real/ + fake/ folders or a list file")


def _kind_of_file(path: Path) -> str:
    if path.name == LIST_NAME:
        raise DatasetError(f"pass the Celeb-DF root folder, not {LIST_NAME} itself (or list_file=)")
    if path.suffix.lower() == ".json" and _is_deepfakebench(path):
        return "deepfakebench"
    if path.suffix.lower() in (".txt", ".lst", ".list"):
        return "txtlist"
    raise DatasetError(f"cannot tell what kind of data set file {path.name} is")


def _is_deepfakebench(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and next(iter_video_entries(data), None) is not None
