"""On-disk cache of face detections and crops, so more detectors later do not detect again.

Entries are ``.npz`` files named by the evidence SHA-256 and a digest of the settings that
made them: detections by (video stream, frame indices, face settings), crops additionally by the crop spec.

The SHA-256 must be that of the bytes the entry was cut from: callers hash the evidence through the descriptor
they decode (:class:`~dfdesk.core.evidence_file.OpenedEvidence`), and the pipeline saves an entry only after
checking that the file was not written to while it was decoded.  Every entry also records what it was made from
(that SHA-256, the stream and the file's identity: device, inode, size, mtime); one whose record does not match
the key it is read under (copied into another evidence's folder, or written before records existed) is not served.
A hit is trusted because the analysis hashed the evidence through its descriptor just before and ``fstat`` shows
it unchanged since: the cached faces were cut from these very bytes, so nothing needs decoding again to check them.
Landmark "crops" (kinds ``landmarks`` and ``frame_landmarks``) are stored the same way, as float32 (N, 68, 2).
Writes are atomic (temporary file, then rename); an unreadable entry is deleted and rebuilt.
The cache is bounded: after every save the least recently used entries beyond ``max_bytes`` are
deleted (a read marks an entry used), so months of analyses do not fill the disk.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dfdesk.core.crops import CropSpec
from dfdesk.core.faces import FaceSettings
from dfdesk.core.types import FaceDetection, FrameFaces

CACHE_VERSION = 6  # bump when the stored layout or the detection/crop code changes their output (5: mouth crops by
# the 68 landmarks; 6: keyed by the video stream, each entry records the SHA-256 and identity it was made from)
DEFAULT_MAX_BYTES = 5 * 2**30  # 5 GiB; the DFDESK_CROP_CACHE_GB environment variable overrides it
CropKey = tuple[int, int]  # (frame index, face number in that frame)
NO_IDENTITY = (0, 0, 0, 0)  # an entry made from a source with no single file (a frame folder)


def settings_digest(*parts: object) -> str:
    """Short stable digest of JSON-serialisable settings."""
    text = json.dumps([CACHE_VERSION, *parts], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def max_bytes_from_environment() -> int:
    """The cache limit: DFDESK_CROP_CACHE_GB (a number of GiB, 0 keeps nothing) or 5 GiB."""
    value = os.environ.get("DFDESK_CROP_CACHE_GB", "").strip()
    try:
        return int(float(value) * 2**30) if value else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


class CropCache:
    def __init__(self, root: str | os.PathLike, max_bytes: int | None = None):
        self.root = Path(root)
        self.max_bytes = max_bytes_from_environment() if max_bytes is None else max_bytes

    # --- detections -------------------------------------------------------------------------

    def load_detections(self, sha256: str, indices: Sequence[int], settings: FaceSettings, *, stream: int = 0
                        ) -> tuple[list[FrameFaces], list[str], tuple[int, ...]] | None:
        """(frames, warnings, shot starts) stored for these settings, or None."""
        return self._load(self._detections_path(sha256, indices, settings, stream), _unpack_detections,
                          (sha256, stream))

    def save_detections(self, sha256: str, indices: Sequence[int], settings: FaceSettings,
                        frames: Sequence[FrameFaces], warnings: Sequence[str] = (),
                        shot_starts: Sequence[int] = (), *, stream: int = 0,
                        made_from: Sequence[int] = NO_IDENTITY) -> None:
        """``made_from``: the identity (device, inode, size, mtime) of the file the faces were decoded from."""
        self._save(self._detections_path(sha256, indices, settings, stream),
                   {**_pack_detections(frames, warnings, shot_starts), **_source(sha256, stream, made_from)})

    # --- crops ------------------------------------------------------------------------------

    def load_crops(self, sha256: str, indices: Sequence[int], settings: FaceSettings, spec: CropSpec, *,
                   stream: int = 0) -> dict[CropKey, np.ndarray] | None:
        return self._load(self._crops_path(sha256, indices, settings, spec, stream), _unpack_crops, (sha256, stream))

    def save_crops(self, sha256: str, indices: Sequence[int], settings: FaceSettings, spec: CropSpec,
                   crops: dict[CropKey, np.ndarray], *, stream: int = 0,
                   made_from: Sequence[int] = NO_IDENTITY) -> None:
        keys = sorted(crops)
        images = np.stack([crops[k] for k in keys]) if keys else np.zeros((0, *spec.value_shape()), spec.value_dtype)
        self._save(self._crops_path(sha256, indices, settings, spec, stream),
                   {"keys": np.asarray(keys, np.int64).reshape(-1, 2), "crops": images,
                    **_source(sha256, stream, made_from)})

    # --- files ------------------------------------------------------------------------------

    def _detections_path(self, sha256: str, indices: Sequence[int], settings: FaceSettings, stream: int) -> Path:
        return self.root / sha256 / f"faces-{settings_digest(stream, list(indices), settings.to_dict())}.npz"

    def _crops_path(self, sha256: str, indices: Sequence[int], settings: FaceSettings, spec: CropSpec,
                    stream: int) -> Path:
        digest = settings_digest(stream, list(indices), settings.to_dict(), spec.to_dict())
        return self.root / sha256 / f"crops-{spec.kind}-{spec.size}-{digest}.npz"

    @staticmethod
    def _load(path: Path, unpack, source: tuple[str, int]):
        """``unpack`` applied to the arrays stored at ``path``; None when absent, corrupt or recorded as made from
        another source than ``source`` (SHA-256, stream)."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if _recorded_source(arrays) != source:
                raise ValueError("the entry records another source than its key")
            found = unpack(arrays)
            os.utime(path)  # used now: the last to be pruned
            return found
        except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)  # corrupt: forget it, the caller rebuilds it
            return None

    def _save(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.prune(keep=path)

    def prune(self, keep: Path | None = None) -> list[Path]:
        """Delete the least recently used entries until the cache holds at most ``max_bytes``; the deleted paths.

        ``keep`` (the entry just written) is never deleted, even when it alone is over the limit.
        """
        entries = []
        for path in self.root.glob("*/*.npz"):
            try:
                stat = path.stat()
            except OSError:  # deleted meanwhile (another dfdesk process)
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        deleted = []
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            deleted.append(path)
            _remove_if_empty(path.parent)
        return deleted


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty, or gone
        pass


def _source(sha256: str, stream: int, identity: Sequence[int]) -> dict[str, np.ndarray]:
    """What an entry was made from: the decoded bytes' SHA-256, the video stream and the file's identity."""
    return {"source_sha256": np.asarray(sha256, dtype=np.str_), "source_stream": np.asarray(stream, np.int64),
            "source_identity": np.asarray(list(identity), np.int64).reshape(4)}


def _recorded_source(arrays: dict[str, np.ndarray]) -> tuple[str, int]:
    return str(arrays["source_sha256"]), int(arrays["source_stream"])


def _pack_detections(frames: Sequence[FrameFaces], warnings: Sequence[str],
                     shot_starts: Sequence[int]) -> dict[str, np.ndarray]:
    faces = [(position, face) for position, frame in enumerate(frames) for face in frame.faces]
    return {
        "frame_index": np.asarray([f.index for f in frames], np.int64),
        "frame_time": np.asarray([f.time_s for f in frames], np.float64),
        "face_frame": np.asarray([p for p, _ in faces], np.int64),
        "boxes": np.asarray([f.box for _, f in faces], np.float64).reshape(-1, 4),
        "scores": np.asarray([f.score for _, f in faces], np.float64),
        "landmarks": np.asarray([f.landmarks for _, f in faces], np.float64).reshape(-1, 5, 2),
        "warnings": np.asarray(list(warnings), dtype=np.str_),
        "shot_starts": np.asarray(list(shot_starts), np.int64),
    }


def _unpack_detections(data: dict[str, np.ndarray]) -> tuple[list[FrameFaces], list[str], tuple[int, ...]]:
    per_frame: list[list[FaceDetection]] = [[] for _ in data["frame_index"]]
    for position, box, score, points in zip(data["face_frame"], data["boxes"], data["scores"], data["landmarks"]):
        per_frame[int(position)].append(FaceDetection(tuple(float(v) for v in box), float(score),
                                                      tuple((float(x), float(y)) for x, y in points)))
    frames = [FrameFaces(int(i), float(t), tuple(faces))
              for i, t, faces in zip(data["frame_index"], data["frame_time"], per_frame)]
    return frames, [str(w) for w in data["warnings"]], tuple(int(i) for i in data["shot_starts"])


def _unpack_crops(data: dict[str, np.ndarray]) -> dict[CropKey, np.ndarray]:
    keys, images = data["keys"], data["crops"]
    if len(keys) != len(images):
        raise ValueError("crop keys and images differ in number")
    return {(int(f), int(n)): images[i] for i, (f, n) in enumerate(keys)}
