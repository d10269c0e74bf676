"""Checked argument types for every sub-command: what a user can type is refused here, at parse time, with one line
and exit 2, before any database is opened or any frame decoded.

Each function is an argparse ``type=``: it returns the checked value or raises ``argparse.ArgumentTypeError`` whose
text argparse prefixes with the option's name.  Integers are ASCII decimal only (``int()`` would also take "١٢",
"1_000" or " 7 ") and bounded, so 2**70 never reaches SQLite or PyTorch.
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from dfdesk.services import text_limits

MAX_ID = 2**63 - 1  # SQLite's largest integer
MAX_SEED = 2**32 - 1  # what every random generator used (NumPy, PyTorch, Python) accepts
MAX_FRAMES = 1_000_000  # more than any sampler would decode from one video
MAX_WORKERS = 256
_DECIMAL = re.compile(r"-?[0-9]{1,30}")


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse type: an ASCII decimal integer from ``low`` to ``high``."""

    def parse(text: str) -> int:
        if not _DECIMAL.fullmatch(text) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not {what} (a whole number from {low} to {high})")
        return int(text)

    return parse


record_id = bounded_int(1, MAX_ID, "an id")
seed = bounded_int(0, MAX_SEED, "a seed")
frame_count = bounded_int(1, MAX_FRAMES, "a frame count")
worker_count = bounded_int(1, MAX_WORKERS, "a number of workers")
stream_index = bounded_int(0, 65535, "a stream index")  # for analyze --stream (a container's stream number)


def text(field: str, limit: int, required: bool = False) -> Callable[[str], str]:
    """An argparse type: free text within ``limit`` characters (:func:`dfdesk.services.text_limits.check_text`)."""

    def parse(value: str) -> str:
        try:
            checked = text_limits.check_text(field, value, limit)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if required and not checked:
            raise argparse.ArgumentTypeError(f"{field} is empty")
        return checked

    return parse


case_name = text("the case name", text_limits.CASE_NAME, required=True)
case_number = text("the case number", text_limits.CASE_NUMBER)
description = text("the description", text_limits.DESCRIPTION)
examiner = text("the examiner", text_limits.EXAMINER, required=True)


def output_file(text_value: str) -> Path:
    """An argparse type: a file to be written: not a folder, in a folder that exists (checked again before
    writing; the file itself may exist: each command decides whether it may replace it)."""
    if not text_value or "\x00" in text_value:
        raise argparse.ArgumentTypeError(f"{text_value!r} is not a file name")
    path = Path(text_value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give a file name")
    folder = path.absolute().parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() or _below_a_file(folder) else "does not exist"
        raise argparse.ArgumentTypeError(f"{path}: the folder {folder} {state}")
    return path


def input_file(text_value: str) -> Path:
    """An argparse type: an existing regular file (or something that reads like one: a pipe, a device)."""
    if not text_value or "\x00" in text_value:
        raise argparse.ArgumentTypeError(f"{text_value!r} is not a file name")
    path = Path(text_value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    return path


def database_file(text_value: str) -> Path:
    """An argparse type for ``--db``: a path taken literally, not a folder, whose parent is (or can become) a
    folder."""
    if not text_value or "\x00" in text_value:
        raise argparse.ArgumentTypeError(f"{text_value!r} is not a file name")
    path = Path(text_value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give the case database file")
    if _below_a_file(path.absolute().parent):
        raise argparse.ArgumentTypeError(f"{path}: a part of its folder is a file, not a folder")
    return path


def _below_a_file(folder: Path) -> bool:
    """True when ``folder`` or one of its ancestors is something other than a folder (a regular file)."""
    for part in (folder, *folder.parents):
        if part.exists():
            return not part.is_dir()
    return False
