"""Real faces for self-blended training: a MANIFEST.csv folder -> face crops and 68 landmarks, split by person.

The folder holds ``MANIFEST.csv`` (columns ``file``, ``repo``, ``identity``, ``note``, ...) and the files it names:
clips under ``real/clips/`` and still photos under ``real/photos/`` (../shared/data/train is such a folder).

Extraction runs once and is kept in ``faces_dir`` (one ``.npz`` per source file, so an interrupted extraction
resumes where it stopped).  Clips go through the product's own face pipeline
(:func:`dfdesk.core.pipeline.extract_faces`: MTCNN, tracking, the detector's crop); photos, which are not
videos, through the same MTCNN detector and :meth:`~dfdesk.core.crops.CropSpec.cut`.  The 68 iBUG landmarks come
from :class:`dfdesk.core.landmarks.FaceLandmarker` on the full frame and are stored in crop pixels, so that the
crops are exactly what the analysis feeds the detector.

Split by person: a share of the clips' identities is held out for validation.  Photos carry no identity in the
manifest; they train only, and a clip identity whose name appears in a photo's note (e.g. ``FeiFei_Li`` in
"Fei-Fei Li photo") is kept in training too, so nobody seen in training is validated on.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from dfdesk.core.crops import CropSpec, square_box
from dfdesk.core.faces import FaceSettings, shared_detector
from dfdesk.core.frame_folder import open_source, probe_source
from dfdesk.core.landmarks import IBUG_POINTS, PASSES, FaceLandmarker, shared_landmarker
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import VideoError
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.types import FaceDetection, Frame

MANIFEST = "MANIFEST.csv"
FACES_VERSION = 1  # bump when the extraction's output changes
CLIP, PHOTO = "clip", "photo"
TRAIN, VAL = "train", "val"


class SbiDataError(ValueError):
    """The manifest folder cannot provide training faces; one clear line."""


@dataclass(frozen=True)
class SourceFile:
    """One real clip or photo named by the manifest."""

    name: str  # the manifest's ``file`` (relative to the folder): the unit of validation grouping
    path: Path
    kind: str  # CLIP | PHOTO
    identity: str  # the manifest's person key; "photo:<name>" for a photo without one
    repo: str  # where the file comes from (public repository)
    note: str


@dataclass(frozen=True)
class FaceSet:
    """The faces taken from one source file."""

    crops: np.ndarray  # uint8 (N, S, S, 3)
    landmarks: np.ndarray  # float32 (N, 68, 2), crop pixels
    frames: np.ndarray  # int64 (N,): frame index in the clip (0 for a photo)


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    file: str
    faces: int  # faces kept from this file (0: none found, or unreadable)


# --- the manifest and the split ----------------------------------------------------------------------------------


def read_manifest(root: str | os.PathLike, photos: bool = True) -> list[SourceFile]:
    """The manifest's clips (and photos) that exist on disk, in manifest order."""
    root = Path(root)
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise SbiDataError(f"{manifest} does not exist: [data] root must be a folder with a {MANIFEST}")
    files = []
    with manifest.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            kind = PHOTO if "/photos/" in f"/{row['file']}" else CLIP
            if kind == PHOTO and not photos:
                continue
            path = root / row["file"]
            if path.is_file():
                identity = row.get("identity", "").strip() or f"photo:{row['file']}"
                files.append(SourceFile(row["file"], path, kind, identity, row.get("repo", ""), row.get("note", "")))
    if not any(f.kind == CLIP for f in files):
        raise SbiDataError(f"{manifest} names no clip that exists under {root}")
    return files


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def split_people(files: Sequence[SourceFile], val_fraction: float, seed: int = 0) -> dict[str, str]:
    """identity -> TRAIN or VAL.  About ``val_fraction`` of the clip identities (at least one) are held out,
    drawn with ``seed``; photo identities, and clip identities named in a photo's note, always train."""
    photo_notes = [_letters(f.note) for f in files if f.kind == PHOTO]
    clip_people = sorted({f.identity for f in files if f.kind == CLIP})
    eligible = [p for p in clip_people if not any(_letters(p) and _letters(p) in note for note in photo_notes)]
    count = min(max(1, round(val_fraction * len(clip_people))), max(len(eligible) - 1, 0))
    chosen = set(np.random.default_rng(seed).permutation(eligible)[:count].tolist()) if count else set()
    return {f.identity: VAL if f.identity in chosen else TRAIN for f in files}


# --- extraction --------------------------------------------------------------------------------------------------


def faces_key(spec: CropSpec, settings: FaceSettings, frames_per_clip: int) -> str:
    """Folder name of one extraction: crop, detection settings, frames per clip and landmark model (its own digest,
    not the crop cache's, so that a new crop-cache format never moves a training run's faces)."""
    detection = {k: v for k, v in settings.to_dict().items() if k not in ("device", "batch_size")}
    parts = [FACES_VERSION, asdict(spec), detection, frames_per_clip, {"landmarks": IBUG_POINTS, "passes": PASSES}]
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return f"{spec.size}px-m{spec.margin:g}-{frames_per_clip}f-{digest[:10]}"


def crop_points(points: np.ndarray, detection: FaceDetection, spec: CropSpec) -> np.ndarray:
    """Frame-pixel points -> pixels of the face crop that ``spec`` cuts around ``detection``."""
    left, top, right, _ = square_box(detection, spec.margin)
    scale = spec.size / max(right - left, 1)
    return ((np.asarray(points, np.float64) - (left, top)) * scale).astype(np.float32)


def clip_faces(path: Path, spec: CropSpec, frames: int, settings: FaceSettings,
               landmarker: FaceLandmarker) -> FaceSet | None:
    """Up to ``frames`` faces of the clip's main track, spread over the clip; None when no face track."""
    info = probe_source(path)
    plan = plan_sampling(info.frame_count, "uniform", frames=frames)
    found = run_to_end(extract_faces(path, info, plan.indices, settings, [spec]))
    track = found.main_track
    if track is None:
        return None
    crops = dict(found.track_crops(spec, track.track_id))
    detections = dict(zip(track.frame_indices, track.detections))
    kept, points = [], []
    with open_source(path, info) as reader:
        for frame in reader.frames(sorted(crops)):
            detection = detections[frame.index]
            points.append(crop_points(landmarker.landmarks(frame.image, [detection])[0], detection, spec))
            kept.append(frame.index)
    if not kept:
        return None
    return FaceSet(np.stack([crops[i] for i in kept]), np.stack(points), np.asarray(kept, np.int64))


def read_photo(path: Path) -> np.ndarray:
    """An upright RGB uint8 image (EXIF orientation applied)."""
    with Image.open(path) as image:
        return np.array(ImageOps.exif_transpose(image).convert("RGB"))


def photo_faces(path: Path, spec: CropSpec, settings: FaceSettings, landmarker: FaceLandmarker) -> FaceSet | None:
    """The most confident face of a photo, cut as the pipeline cuts crops; None when no face."""
    image = read_photo(path)
    faces = shared_detector(settings).detect([Frame(0, 0.0, image)])[0].faces
    if not faces:
        return None
    detection = faces[0]
    points = crop_points(landmarker.landmarks(image, [detection])[0], detection, spec)
    return FaceSet(spec.cut(image, detection)[None], points[None], np.zeros(1, np.int64))


def _npz_path(folder: Path, file: SourceFile) -> Path:
    return folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", file.name) + ".npz")


def save_faces(path: Path, faces: FaceSet | None) -> None:
    """Written under a temporary name and renamed, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.npz")
    empty = FaceSet(np.zeros((0, 1, 1, 3), np.uint8), np.zeros((0, IBUG_POINTS, 2), np.float32),
                    np.zeros(0, np.int64))
    faces = faces or empty
    np.savez_compressed(temporary, crops=faces.crops, landmarks=faces.landmarks, frames=faces.frames)
    os.replace(temporary, path)


def load_faces(path: Path) -> FaceSet:
    with np.load(path) as data:
        return FaceSet(data["crops"], data["landmarks"].astype(np.float32), data["frames"])


def count_faces(path: Path) -> int:
    """Faces stored in ``path``, read from its small frame-index array only (the crops stay compressed)."""
    with np.load(path) as data:
        return len(data["frames"])


def extract_all(files: Sequence[SourceFile], folder: Path, spec: CropSpec, frames_per_clip: int,
                settings: FaceSettings, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Extract every file not extracted yet into ``folder`` (one .npz each); yield progress after each file.
    An unreadable clip or a file without a face is stored empty, so it is not tried again."""
    landmarker = shared_landmarker()
    for done, file in enumerate(files, start=1):
        if cancel is not None and cancel():
            return
        target = _npz_path(folder, file)
        if not target.is_file():
            try:
                faces = (clip_faces(file.path, spec, frames_per_clip, settings, landmarker) if file.kind == CLIP
                         else photo_faces(file.path, spec, settings, landmarker))
            except (VideoError, OSError):
                faces = None
            save_faces(target, faces)
        yield Progress(done, len(files), file.name, count_faces(target))


# --- the face bank -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaceBank:
    """All faces of one split, in memory: crops, landmarks and which file each came from."""

    crops: np.ndarray  # uint8 (M, S, S, 3)
    landmarks: np.ndarray  # float32 (M, 68, 2)
    files: tuple[str, ...]  # per face: the source file's manifest name

    def __len__(self) -> int:
        return len(self.crops)


def spread(count: int, keep: int) -> np.ndarray:
    """``keep`` indices of ``range(count)`` spread evenly (all of them when count <= keep)."""
    if count <= keep:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, keep).round().astype(int))


def load_bank(files: Sequence[SourceFile], folder: Path, per_file: int | None = None) -> FaceBank:
    """The extracted faces of ``files`` (at most ``per_file`` from each, spread over it)."""
    crops, landmarks, names = [], [], []
    for file in files:
        faces = load_faces(_npz_path(folder, file))
        keep = spread(len(faces.crops), per_file) if per_file else np.arange(len(faces.crops))
        crops += list(faces.crops[keep])
        landmarks += list(faces.landmarks[keep])
        names += [file.name] * len(keep)
    if not crops:
        raise SbiDataError("no face was found in any of the files of this split")
    return FaceBank(np.stack(crops), np.stack(landmarks), tuple(names))


def describe(files: Sequence[SourceFile], split: dict[str, str], folder: Path) -> dict:
    """Counts per split (files, people, faces) and the source repositories, for events and the model card."""
    table: dict[str, dict] = {}
    for file in files:
        row = table.setdefault(split[file.identity], {"clips": 0, "photos": 0, "people": set(), "faces": 0,
                                                      "repos": set()})
        row["clips" if file.kind == CLIP else "photos"] += 1
        row["people"].add(file.identity)
        row["repos"].add(file.repo)
        path = _npz_path(folder, file)
        row["faces"] += count_faces(path) if path.is_file() else 0
    return {name: {**row, "people": len(row["people"]), "repos": sorted(row["repos"])} for name, row in table.items()}


def write_index(folder: Path, files: Sequence[SourceFile], split: dict[str, str]) -> Path:
    """faces.json: which file is which person and split (for whoever reads the folder later)."""
    rows = [{"file": f.name, "kind": f.kind, "identity": f.identity, "split": split[f.identity], "repo": f.repo}
            for f in files]
    path = folder / "faces.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path
