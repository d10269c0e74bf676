"""DFDC: one ``metadata.json`` per part, ``{file: {"label": "REAL"|"FAKE", "original": file|null, "split": ...}}``.

DFDC publishes no identities; a fake is linked to its original, which keeps the pair in one split.
"""
from __future__ import annotations

import json
from pathlib import Path

from trainer.datasets.records import SPLITS, DatasetError, DatasetReport, ReportBuilder, VideoRecord

NAME = "DFDC"
METADATA = "metadata.json"
LABELS = {"REAL": "real", "FAKE": "fake"}


def find_metadata(root: Path) -> list[Path]:
    """``metadata.json`` in root or in any folder below it, sorted."""
    return sorted(Path(root).rglob(METADATA))


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read DFDC metadata {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path} is not a JSON object of {{file: {{label, original, split}}}}")
    return data


def _add_part(builder: ReportBuilder, metadata: Path) -> None:
    folder = metadata.parent
    for name, entry in sorted(_read(metadata).items()):
        label = LABELS.get(str(entry.get("label", "")).upper()) if isinstance(entry, dict) else None
        if label is None:
            builder.problem("unknown_label", f"label must be REAL or FAKE, got {entry!r}", folder / name)
            continue
        original = entry.get("original")
        split = entry.get("split") if entry.get("split") in SPLITS else None
        method = "DFDC" if label == "fake" else ""
        builder.add(VideoRecord(folder / name, label, NAME, method, (), folder / original if original else None,
                                split))


def load_dfdc(root: Path, check_files: bool = True) -> DatasetReport:
    root = Path(root)
    parts = find_metadata(root)
    if not parts:
        raise DatasetError(f"no {METADATA} found under {root}")
    builder = ReportBuilder("dfdc", root, check_files)
    for metadata in parts:
        _add_part(builder, metadata)
    return builder.build()
