"""The labelled validation clips that the ensemble's fusion and likelihood ratios are fitted and measured on.

A ``labels.csv`` (columns ``file``, ``label``, ``method``, ``pair_of``; paths relative to the CSV's folder) lists
each clip with its label and, for a fake made from a listed original, that original.  An original and its fakes
form one **group**: cross-validation leaves a whole group out together, so a model is never fitted on a fake
while its own original (the same person, scene and encoding) is held out, or the other way round.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dfdesk.core.coverage import family_of
from trainer.clips import DataError
from trainer.datasets.records import VIDEO_EXTENSIONS

DEFAULT_FOLDERS = ("videos/ffpp/", "videos/real/", "videos/val/")  # ../shared/data: whole-scene evaluation clips
REQUIRED_COLUMNS = ("file", "label", "method", "pair_of")


@dataclass(frozen=True)
class LabelledClip:
    path: Path
    name: str  # the path as the CSV gives it
    target: int  # 1 fake, 0 real
    method: str
    family: str | None  # manipulation family of a fake (dfdesk.core.coverage), None for real clips
    group: str  # clips sharing a group leave a cross-validation fold together


def read_labelled_clips(csv_path: str | Path, folders: Sequence[str] = DEFAULT_FOLDERS) -> list[LabelledClip]:
    """The video clips of ``csv_path`` whose name starts with one of ``folders`` (all when empty), in file order.
    DataError for a missing file, missing columns, a bad label or a clip that does not exist."""
    csv_path = Path(csv_path)
    rows = _rows(csv_path)
    chosen = [r for r in rows if Path(r["file"]).suffix.lower() in VIDEO_EXTENSIONS
              and (not folders or r["file"].startswith(tuple(folders)))]
    clips = [_clip(csv_path.parent, row) for row in chosen]
    missing = [c.name for c in clips if not c.path.is_file()]
    if missing:
        raise DataError(f"{csv_path} lists clips that do not exist: {', '.join(missing)}")
    return clips


def _rows(csv_path: Path) -> list[dict[str, str]]:
    try:
        with csv_path.open(encoding="utf-8", newline="") as stream:
            reader = csv.DictReader(stream)
            lacking = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
            if lacking:
                raise DataError(f"{csv_path} lacks the column(s) {', '.join(lacking)}")
            return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the labelled clips list {csv_path}: {exc}") from None


def _clip(root: Path, row: dict[str, str]) -> LabelledClip:
    label = row["label"].lower()
    if label not in ("real", "fake"):
        raise DataError(f"{row['file']}: label must be real or fake, got {row['label']!r}")
    target = int(label == "fake")
    family = (family_of(row["method"]) or family_of(row.get("notes", ""))) if target else None
    group = row["pair_of"] if target and row["pair_of"] else row["file"]  # an original is its fakes' group
    return LabelledClip(root / row["file"], row["file"], target, row["method"], family, group)


def clips_from_records(records: Sequence) -> list[LabelledClip]:
    """Data-set records (:class:`trainer.datasets.VideoRecord`) as labelled clips: a fake made from a known
    original shares that original's group."""
    return [LabelledClip(r.path, str(r.path), r.target, r.method, family_of(r.method) if r.target else None,
                         str(r.original) if r.target and r.original else str(r.path)) for r in records]
