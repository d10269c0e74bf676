"""DeepfakeBench's dataset JSON (``preprocessing/dataset_json/<name>.json``).

Layout: ``{dataset: {label_name: {split: [{compression:}] {video: {"label": label_name, "frames": [...]}}}}}``,
where the compression level (``c23``...) appears for FaceForensics++ only.  Read tolerantly: any nesting is
walked, a video is a dict with a ``frames`` list, and its split is the nearest ``train``/``val``/``test`` key.
Label names (``FF-real``, ``FF-DF``, ``CelebDFv2_fake``...) map to real/fake through ``label_map`` or, by
default, by name: names containing "real" are real, names containing "fake" or a known FF++ method code are fake.
A video present under several splits (DeepfakeBench copies DFD into all three) is kept once and reported.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from trainer.datasets.celebdf import celebdf_identities
from trainer.datasets.ffpp import ffpp_identities
from trainer.datasets.records import SPLITS, DatasetError, DatasetReport, ReportBuilder, VideoRecord

FAKE_CODES = ("-DF", "-F2F", "-FS", "-NT", "-FH", "-FST")


def label_from_name(name: str, label_map: dict[str, str | int] | None = None) -> str | None:
    """'real' | 'fake' for a DeepfakeBench label name, or None when it cannot be told.  ``label_map`` values
    may be 'real'/'fake' or DeepfakeBench's own ``label_dict`` integers (0 = real, 1 = fake)."""
    if label_map and name in label_map:
        value = label_map[name]
        return {0: "real", 1: "fake"}.get(value, value) if isinstance(value, int) else value
    lowered = name.lower()
    if "real" in lowered:
        return "real"
    if "fake" in lowered or name.upper().endswith(FAKE_CODES):
        return "fake"
    return None


def iter_video_entries(node: object, keys: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict]]:
    """(key path, entry) for every dict holding a ``frames`` list, depth first."""
    if isinstance(node, dict) and isinstance(node.get("frames"), list):
        yield keys, node
    elif isinstance(node, dict):
        for key, child in node.items():
            yield from iter_video_entries(child, keys + (str(key),))


def _frame_folder(frames: list, base: Path) -> Path | None:
    parents = {(base / str(f)).parent for f in frames}
    return parents.pop() if len(parents) == 1 else None


def _record(keys: tuple[str, ...], entry: dict, base: Path, label: str) -> VideoRecord | None:
    folder = _frame_folder(entry["frames"], base)
    if folder is None:
        return None
    split = next((k for k in reversed(keys) if k in SPLITS), None)
    dataset, video = keys[0], keys[-1]
    identities = ffpp_identities(video) if "FaceForensics" in dataset else celebdf_identities(video)
    method = keys[1] if label == "fake" and len(keys) > 1 else ""
    return VideoRecord(folder, label, dataset, method, identities, None, split)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read DeepfakeBench JSON {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path} is not a DeepfakeBench dataset JSON (expected an object at the top)")
    return data


def _json_files(root: Path) -> list[Path]:
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    if not files:
        raise DatasetError(f"no DeepfakeBench dataset JSON in {root}")
    return files


def load_deepfakebench(root: Path, base_dir: Path | None = None, label_map: dict[str, str | int] | None = None,
                       check_files: bool = True) -> DatasetReport:
    """Read one dataset JSON, or every ``*.json`` in a folder; frame paths are resolved against ``base_dir``
    (default: the JSON's folder; absolute paths stay as they are)."""
    root = Path(root)
    builder = ReportBuilder("deepfakebench", root, check_files)
    for path in _json_files(root):
        _add_file(builder, path, Path(base_dir) if base_dir else path.parent, label_map)
    return builder.build()


def _add_file(builder: ReportBuilder, path: Path, base: Path, label_map: dict[str, str | int] | None) -> None:
    seen_in: dict[Path, str | None] = {}
    for keys, entry in iter_video_entries(_load_json(path)):
        label = label_from_name(str(entry.get("label", "")), label_map)
        if label not in ("real", "fake"):
            builder.problem("unknown_label", f"label {entry.get('label')!r} is neither real nor fake; "
                            "pass label_map", "/".join(keys))
            continue
        record = _record(keys, entry, base, label)
        if record is None:
            builder.problem("bad_line", "no frames, or frames in several folders", "/".join(keys))
        elif record.path in seen_in:
            builder.problem("conflict", f"also listed under split {record.split}; kept in {seen_in[record.path]}",
                            record.path)
        else:
            seen_in[record.path] = record.split
            builder.add(record)
