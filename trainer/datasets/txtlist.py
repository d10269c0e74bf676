"""The seed repository's list file: one ``frame_folder label`` line per video, label 0 or 1.

Polarity is a parameter: ``fake_label`` is the number that means fake.  The default, 1, matches dfdesk's own
convention (1 = fake); a list that writes 1 for real needs ``fake_label=0``.  Relative paths are resolved
against ``base_dir`` (default: the list file's folder).  Blank lines and ``#`` comments are skipped; a path may
contain spaces (the label is the last field).
"""
from __future__ import annotations

from pathlib import Path

from trainer.datasets.records import DatasetError, DatasetReport, ReportBuilder, VideoRecord, read_text_lines

NAME = "list"


def _parse(line: str) -> tuple[str, str] | None:
    parts = line.rsplit(maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else None


def load_txt_list(root: Path, fake_label: int = 1, base_dir: Path | None = None,
                  check_files: bool = True) -> DatasetReport:
    """Read a ``frame_folder label`` list; ``root`` is the list file."""
    root = Path(root)
    if fake_label not in (0, 1):
        raise DatasetError(f"fake_label must be 0 or 1, got {fake_label!r}")
    if not root.is_file():
        raise DatasetError(f"list file {root} not found")
    base = Path(base_dir) if base_dir else root.parent
    names = {str(fake_label): "fake", str(1 - fake_label): "real"}
    builder = ReportBuilder("txtlist", root, check_files)
    for number, line in enumerate(read_text_lines(root), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parsed = _parse(line.strip())
        if parsed is None or parsed[1] not in names:
            builder.problem("bad_line", f"line {number}: expected 'path 0|1', got {line!r}", root)
            continue
        builder.add(VideoRecord(base / parsed[0], names[parsed[1]], NAME))
    return builder.build()
