"""FaceForensics++: ``original_sequences/youtube/<c>/videos`` and ``manipulated_sequences/<method>/<c>/videos``.

Official splits are JSON lists of ``[target, source]`` id pairs; a pair ``[a, b]`` in a split puts the videos
``a``, ``b``, ``a_b`` and ``b_a`` in that split.  A fake ``TTT_SSS`` shows target ``TTT`` and source ``SSS``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from trainer.datasets.records import SPLITS, DatasetError, DatasetReport, ReportBuilder, VideoRecord

NAME = "FaceForensics++"
REAL_DIR = Path("original_sequences") / "youtube"
FAKE_DIR = Path("manipulated_sequences")
_ORIGINAL = re.compile(r"^(\d{3})$")
_FAKE = re.compile(r"^(\d{3})_(\d{3})$")


def ffpp_identities(name: str) -> tuple[str, ...]:
    """Sequence ids in an FF++ video name: ``'004'`` -> ('004',), ``'004_982'`` -> ('004', '982'), else ()."""
    match = _ORIGINAL.match(name) or _FAKE.match(name)
    return match.groups() if match else ()


def read_split_pairs(path: Path) -> list[tuple[str, str]]:
    """One official split file: a JSON list of [target, source] id pairs."""
    try:
        pairs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read FF++ split file {path}: {exc}") from exc
    if not isinstance(pairs, list) or not all(_is_pair(p) for p in pairs):
        raise DatasetError(f"{path} is not a JSON list of [target, source] id pairs")
    return [(str(a), str(b)) for a, b in pairs]


def _is_pair(item: object) -> bool:
    return isinstance(item, list) and len(item) == 2 and all(isinstance(x, (str, int)) for x in item)


def split_of_videos(pairs_by_split: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Map every video name (``a``, ``b``, ``a_b``, ``b_a``) to its official split; a name in two splits raises."""
    owner: dict[str, str] = {}
    for split, pairs in pairs_by_split.items():
        for a, b in pairs:
            for name in (a, b, f"{a}_{b}", f"{b}_{a}"):
                if owner.setdefault(name, split) != split:
                    raise DatasetError(f"FF++ split files put video {name} in both {owner[name]} and {split}")
    return owner


def find_split_files(root: Path, splits_dir: Path | None = None) -> dict[str, Path]:
    """``train.json``/``val.json``/``test.json`` (or ``ffpp_split_<s>.json``) in splits_dir, root/splits or root."""
    folders = [Path(splits_dir)] if splits_dir else [root / "splits", root]
    for folder in folders:
        found = {s: _split_file(folder, s) for s in SPLITS}
        if all(found.values()):
            return found  # type: ignore[return-value]
    if splits_dir:
        raise DatasetError(f"no train/val/test split JSONs in {splits_dir}")
    return {}


def _split_file(folder: Path, split: str) -> Path | None:
    for name in (f"{split}.json", f"ffpp_split_{split}.json"):
        if (folder / name).is_file():
            return folder / name
    return None


def _choose_compression(root: Path, compression: str | None, media: str) -> str:
    available = sorted(p.name for p in (root / REAL_DIR).glob("*") if p.is_dir())
    available += sorted(p.parent.name for p in (root / FAKE_DIR).glob(f"*/*/{media}"))
    available = sorted(set(available))
    if compression:
        if compression not in available:
            raise DatasetError(f"FF++ compression {compression!r} not found under {root}; found {available}")
        return compression
    if not available:
        raise DatasetError(f"{root} has no FF++ {REAL_DIR}/<c>/ or {FAKE_DIR}/<method>/<c>/ folders")
    if len(available) == 1:
        return available[0]
    if "c23" in available:
        return "c23"
    raise DatasetError(f"several FF++ compressions under {root} ({available}); pass compression=")


def load_ffpp(root: Path, compression: str | None = None, media: str = "videos",
              splits_dir: Path | None = None, methods: tuple[str, ...] | None = None) -> DatasetReport:
    """Read one compression level (``c23`` by default when several exist) of an FF++ tree."""
    root = Path(root)
    if media not in ("videos", "frames"):
        raise DatasetError(f"media must be 'videos' or 'frames', got {media!r}")
    level = _choose_compression(root, compression, media)
    split_files = find_split_files(root, splits_dir)
    owner = split_of_videos({s: read_split_pairs(p) for s, p in split_files.items()}) if split_files else {}
    builder = ReportBuilder("ffpp", root)
    originals = root / REAL_DIR / level / media
    for path in _entries(originals, media):
        _add(builder, path, "real", "", None, owner)
    for method_dir in sorted(p for p in (root / FAKE_DIR).glob("*") if p.is_dir()):
        if methods is None or method_dir.name in methods:
            for path in _entries(method_dir / level / media, media):
                original = originals / (path.stem.split("_")[0] + path.suffix)
                _add(builder, path, "fake", method_dir.name, original, owner)
    return builder.build()


def _entries(folder: Path, media: str) -> list[Path]:
    if not folder.is_dir():
        return []
    wanted = (lambda p: p.is_dir()) if media == "frames" else (lambda p: p.is_file())
    return sorted(p for p in folder.iterdir() if wanted(p))


def _add(builder: ReportBuilder, path: Path, label: str, method: str, original: Path | None,
         owner: dict[str, str]) -> None:
    name = path.stem if path.is_file() else path.name
    identities = ffpp_identities(name)
    if len(identities) != (1 if label == "real" else 2):
        builder.problem("unmatched", f"name is not an FF++ {'NNN' if label == 'real' else 'TTT_SSS'} id", path)
        return
    if owner and name not in owner:
        builder.problem("unmatched", "not in the official split files; left unassigned", path)
    if original is not None and not original.exists():
        builder.problem("missing", f"original {original.name} not found; fake kept", path)
    builder.add(VideoRecord(path, label, NAME, method, identities, original, owner.get(name)))
