"""The files a batch triages: the ones named, the files of the folders named (recursively when asked), by name
only.  Nothing is opened or hashed here: probing and hashing happen in the workers, so a batch of 10,000 files
starts producing results within seconds."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path


class BatchInputError(ValueError):
    """A path given to the batch does not exist (one readable line)."""


def check_inputs(inputs: Iterable[str | os.PathLike]) -> None:
    missing = [str(p) for p in inputs if not os.path.lexists(p)]
    if missing:
        raise BatchInputError(f"no such file or folder: {', '.join(missing)}")


def list_files(inputs: Iterable[str | os.PathLike], recursive: bool = False) -> Iterator[str]:
    """Absolute paths of every file named or found in the folders named, each once, in a stable order.

    Every file is listed, whatever its name: a video with a wrong extension is still a video, and what is not
    one is refused by the probe with its reason.  Folders are walked without following links to folders (no
    cycles); links to files are listed like the files they point to.
    """
    seen: set[str] = set()
    for given in inputs:
        for path in _files_of(Path(given), recursive):
            absolute = os.path.abspath(path)
            if absolute not in seen:
                seen.add(absolute)
                yield absolute


def _files_of(path: Path, recursive: bool) -> Iterator[str]:
    if not path.is_dir():
        yield str(path)
        return
    if not recursive:
        yield from sorted(entry.path for entry in os.scandir(path) if not entry.is_dir())
        return
    for folder, subfolders, files in os.walk(path, followlinks=False):
        subfolders.sort()
        yield from (os.path.join(folder, name) for name in sorted(files))
