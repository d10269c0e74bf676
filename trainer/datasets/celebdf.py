"""Celeb-DF-v2: ``Celeb-real/``, ``YouTube-real/``, ``Celeb-synthesis/`` and ``List_of_testing_videos.txt``.

The list's lines are ``label relative/path.mp4`` with **1 = real, 0 = fake** (the opposite of dfdesk's
convention).  Listed videos are the official test set; the data set defines no train/val split, so the other
videos are left unassigned for :mod:`trainer.splits`.
"""
from __future__ import annotations

import re
from pathlib import Path

from trainer.datasets.records import DatasetReport, ReportBuilder, VideoRecord, is_video_file, read_text_lines

NAME = "Celeb-DF-v2"
LIST_NAME = "List_of_testing_videos.txt"
FOLDER_LABELS = {"Celeb-real": "real", "YouTube-real": "real", "Celeb-synthesis": "fake"}
LIST_LABELS = {"1": "real", "0": "fake"}
_NAME = re.compile(r"^(id\d+)(?:_(id\d+))?_\d+$")


def celebdf_identities(name: str) -> tuple[str, ...]:
    """``'id0_0000'`` -> ('id0',); ``'id0_id16_0000'`` -> ('id0', 'id16'); YouTube names -> ()."""
    match = _NAME.match(name)
    return tuple(g for g in match.groups() if g) if match else ()


def _original(root: Path, rel: Path) -> Path | None:
    ids = celebdf_identities(rel.stem)
    if rel.parts[0] != "Celeb-synthesis" or len(ids) != 2:
        return None
    return root / "Celeb-real" / f"{ids[0]}_{rel.stem.rsplit('_', 1)[1]}{rel.suffix}"


def _record(root: Path, rel: Path, label: str, split: str | None) -> VideoRecord:
    method = "Celeb-DF synthesis" if label == "fake" else ""
    return VideoRecord(root / rel, label, NAME, method, celebdf_identities(rel.stem), _original(root, rel), split)


def read_test_list(builder: ReportBuilder, list_file: Path, root: Path) -> dict[Path, str]:
    """Parse the official test list into {relative path: label}, reporting bad lines."""
    listed: dict[Path, str] = {}
    for number, line in enumerate(read_text_lines(list_file), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or parts[0] not in LIST_LABELS:
            builder.problem("bad_line", f"line {number}: expected '1|0 path' (1 = real), got {line!r}", list_file)
            continue
        rel, label = Path(parts[1].strip()), LIST_LABELS[parts[0]]
        folder_label = FOLDER_LABELS.get(rel.parts[0])
        if folder_label and folder_label != label:
            builder.problem("conflict", f"list says {label} but folder {rel.parts[0]} says {folder_label}", rel)
        if rel in listed:
            builder.problem("duplicate", f"line {number}: listed more than once; the first entry is kept", rel)
        listed.setdefault(rel, label)
    return listed


def load_celebdf(root: Path, list_file: Path | None = None, check_files: bool = True) -> DatasetReport:
    """Test videos from the list (split 'test'), every other video in the three folders unassigned."""
    root = Path(root)
    builder = ReportBuilder("celebdf", root, check_files)
    list_path = Path(list_file) if list_file else root / LIST_NAME
    listed = read_test_list(builder, list_path, root) if list_path.is_file() else {}
    if not list_path.is_file():
        builder.problem("missing", "no official test list; every video is unassigned", list_path)
    for rel, label in listed.items():
        builder.add(_record(root, rel, label, "test"))
    for folder, label in FOLDER_LABELS.items():
        for path in sorted(p for p in (root / folder).glob("*") if is_video_file(p)):
            rel = path.relative_to(root)
            if rel not in listed:
                builder.add(_record(root, rel, label, None))
    return builder.build()
