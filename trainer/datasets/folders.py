"""A plain folder tree: ``real/`` and ``fake/`` (optionally under ``train/``, ``val/``, ``test/``).

Everything below ``real/`` or ``fake/`` is searched recursively for video files and frame folders (folders that
hold images).  Under ``fake/``, the first sub-folder names the method (``fake/Deepfakes/x.mp4``).
Folder names are matched case-insensitively.
"""
from __future__ import annotations

from pathlib import Path

from trainer.datasets.records import SPLITS, DatasetError, DatasetReport, ReportBuilder, VideoRecord, media_under

NAME = "folders"


def _child(folder: Path, name: str) -> Path | None:
    return next((p for p in sorted(folder.iterdir()) if p.is_dir() and p.name.lower() == name), None)


def label_roots(root: Path) -> list[tuple[str | None, str, Path]]:
    """(split, label, folder) for every ``[split/]real|fake`` folder under root."""
    found = []
    for split in (None, *SPLITS):
        base = root if split is None else _child(root, split)
        for label in ("real", "fake"):
            folder = _child(base, label) if base else None
            if folder:
                found.append((split, label, folder))
    return found


def _method(folder: Path, path: Path, label: str) -> str:
    rel = path.relative_to(folder)
    return rel.parts[0] if label == "fake" and len(rel.parts) > 1 else ""


def load_folders(root: Path) -> DatasetReport:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    roots = label_roots(root)
    if not roots:
        raise DatasetError(f"{root} has no real/ or fake/ folder (nor train|val|test/real|fake)")
    builder = ReportBuilder("folders", root)
    for split, label, folder in roots:
        items = list(media_under(folder))
        if not items:
            builder.problem("missing", f"no videos or frame folders in {label}/", folder)
        for path in items:
            builder.add(VideoRecord(path, label, NAME, _method(folder, path, label), (), None, split))
    return builder.build()
