"""The record every adapter returns, the report around it, and shared file helpers."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from dfdesk.core.frame_folder import IMAGE_SUFFIXES

Label = Literal["real", "fake"]
LABELS: tuple[Label, ...] = ("real", "fake")
SPLITS = ("train", "val", "test")
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})
IMAGE_EXTENSIONS = IMAGE_SUFFIXES  # what a frame folder holds (dfdesk.core.frame_folder reads it)
UNASSIGNED = "unassigned"


class DatasetError(ValueError):
    """A data set cannot be read at all (wrong root, unreadable list, unknown kind)."""


@dataclass(frozen=True)
class VideoRecord:
    """One labelled video file or frame folder.  ``target`` is 1 for fake, 0 for real, everywhere in dfdesk."""

    path: Path
    label: Label
    dataset: str
    method: str = ""  # manipulation method; "" for real videos or when unknown
    identities: tuple[str, ...] = ()  # people shown (FF++: target, source); () when unknown
    original: Path | None = None  # the real video a fake was made from, when known
    split: str | None = None  # "train" | "val" | "test", when the data set or a splitter defines one

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label must be 'real' or 'fake', got {self.label!r}")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {self.split!r}")

    @property
    def target(self) -> int:
        """1 = fake, 0 = real."""
        return int(self.label == "fake")

    @property
    def is_frame_folder(self) -> bool:
        return self.path.suffix.lower() not in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class Problem:
    """Something wrong in a data set that the adapter skipped or could not resolve."""

    kind: str  # "missing" | "unknown_label" | "duplicate" | "bad_line" | "unmatched" | "conflict"
    message: str
    path: str = ""


@dataclass(frozen=True)
class DatasetReport:
    """What an adapter found: the usable records and the problems it skipped."""

    kind: str
    root: Path
    records: tuple[VideoRecord, ...]
    problems: tuple[Problem, ...] = ()

    def counts_by_class(self) -> dict[str, int]:
        counts = Counter(r.label for r in self.records)
        return {label: counts.get(label, 0) for label in LABELS}

    def counts_by_split(self) -> dict[str, dict[str, int]]:
        """{split or 'unassigned': {'real': n, 'fake': n}}."""
        table: dict[str, dict[str, int]] = {}
        for r in self.records:
            row = table.setdefault(r.split or UNASSIGNED, dict.fromkeys(LABELS, 0))
            row[r.label] += 1
        return table


@dataclass
class ReportBuilder:
    """Collects records and problems while an adapter walks a data set; drops duplicates."""

    kind: str
    root: Path
    check_files: bool = True
    records: list[VideoRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _seen: set[Path] = field(default_factory=set)

    def add(self, record: VideoRecord) -> None:
        if record.path in self._seen:
            self.problem("duplicate", "listed more than once; the first entry is kept", record.path)
        elif self.check_files and not record.path.exists():
            self.problem("missing", "listed but not found on disk", record.path)
        else:
            self._seen.add(record.path)
            self.records.append(record)

    def problem(self, kind: str, message: str, path: Path | str = "") -> None:
        self.problems.append(Problem(kind, message, str(path)))

    def build(self) -> DatasetReport:
        return DatasetReport(self.kind, self.root, tuple(self.records), tuple(self.problems))


def is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() for p in folder.iterdir())


def media_under(folder: Path) -> Iterable[Path]:
    """Video files and frame folders (folders holding images) under ``folder``, recursively, sorted."""
    for path in sorted(folder.rglob("*")):
        if is_video_file(path) or (path.is_dir() and has_images(path)):
            yield path


def read_text_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read list file {path}: {exc}") from exc
