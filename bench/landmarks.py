"""68-point landmark figures: error against dlib's points, CPU time per face, and jitter on real clips.

Run: ``.venv/bin/python bench/landmarks.py [--frames 100]`` (about 3 min on 2 idle cores); ``--mapping`` instead
re-derives the 468 -> 68 vertex mapping of dfdesk/core/landmarks.py on ../shared/data/train/real/photos (about 6 min);
``--mouth`` compares mouth-crop framings with LipForensics' example crops (about 2 min); ``--lrnet`` prints LRNet's
video AUC per weight set from the scores bench/eval_real.py cached (seconds: it never scores a clip).
Prints figures; asserts nothing.  Reads ../shared/data in place (never copied).

* Error: the normalised mean error (NME) over the 68 iBUG points, divided by the distance between the outer eye
  corners (36, 45), on DeepfakeBench's two aligned 317x317 frames (faces/000_0000.png, 001_0000.png), whose
  reference points are the first 68 of dlib's 81-point predictor (precomuted_landmarks.json).
* Time: CPU time of the landmarker alone (MTCNN excluded; the process's CPU seconds, all threads, so other work on
  the machine does not inflate it), warm, per face, batch of 1 and of 16 faces.
* Jitter on real clips: MTCNN on N consecutive frames, the main face's landmarks; jitter is the mean distance of
  each point from the midpoint of its positions in the frames before and after (a second difference, so steady
  head motion does not count), over the inter-ocular distance; raw, calibrated (LandmarkCalibrator, LRNet's
  Lucas-Kanade + Kalman) and, for comparison, dlib.
* Mouth crops: 16 uniformly sampled frames of FF++ 004, 634, 519, 750_743 through the face pipeline; the main
  face's mouth crop placed by MTCNN's 5 points and by the 68 landmarks (centre = mean of the 20 lip points, as
  LipForensics does, or of the 8 inner-lip points); each clip's mean crop is compared with the mean of
  mouths/real.avi (LipForensics' own crops of another FF++ clip): the row of the lip line (the darkest row, 43 in
  the reference), the correlation of the two mean crops, and the shift that best aligns them.
* LRNet (--lrnet): each installed LRNet card's video score (mean block P(fake) of the main face) of the labelled
  clips of ../shared/data/labels.csv, read from out/scores, the score cache bench/eval_real.py fills.  A score
  cached with other settings than today's (face detection, frames, seed; see trainer/score_cache.py) is used but
  marked stale, with the settings that changed: re-run bench/eval_real.py (about an hour of CPU) to refresh it.
  Printed: the AUC over all clips (fake = positive), per manipulation family against every real clip, and each
  fake against its own original.
* dlib's 68-point predictor (PyPI face-recognition-models, run by dlib-bin) is trained on iBUG 300-W, whose terms
  exclude commercial use: it is a comparison row here only, never part of dfdesk.  Rows are skipped without it.
"""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import av
import cv2
import numpy as np

from dfdesk import paths
from dfdesk.core import landmarks
from dfdesk.core.crops import mouth_crop
from dfdesk.core.faces import FaceDetector, FaceSettings
from dfdesk.core.landmark_calibration import LandmarkCalibrator
from dfdesk.core.landmarks import FaceLandmarker, inter_ocular_error
from dfdesk.core.pipeline import extract_faces, run_to_end
from dfdesk.core.probe import probe_video
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.types import FaceDetection, Frame
from dfdesk.core.video import VideoReader

FRAMES = ("000_0000.png", "001_0000.png")
CLIPS = ("ffpp/004.mp4", "ffpp/634.mp4", "real/obama_speaking.mp4", "val/lrnet_ff_real.mp4")
# Peizhi Yan's hand-made correspondence (github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks, mp2dlib.py): a row only
YAN_MAPPING = ((127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,), (400,), (379,), (365,),
               (397, 288), (361,), (323,), (454,), (356,), (70,), (63,), (105,), (66,), (107,), (336,), (296,),
               (334,), (293,), (300,), (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,), (33,),
               (160,), (158,), (133,), (153,), (144,), (362,), (385,), (387,), (263,), (373,), (380,), (61,), (39,),
               (37,), (0,), (267,), (269,), (291,), (321,), (314,), (17,), (84,), (91,), (78,), (82,), (13,),
               (312,), (308,), (317,), (14,), (87,))


# --- dlib, the comparison -----------------------------------------------------------------------------------------

class Dlib:
    """dlib's HOG face detector and 68-point predictor, or None from :meth:`load` when not installed."""

    def __init__(self, dlib, model: Path):
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(str(model))
        self.rectangle = dlib.rectangle

    @classmethod
    def load(cls) -> Dlib | None:
        spec = importlib.util.find_spec("face_recognition_models")  # not imported: it needs pkg_resources
        if spec is None or importlib.util.find_spec("dlib") is None:
            return None
        import dlib

        model = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
        return cls(dlib, model) if model.is_file() else None

    def points(self, image: np.ndarray, near: FaceDetection | None = None) -> np.ndarray | None:
        """dlib's 68 points for the face its own detector finds (nearest ``near`` when given), else None."""
        found = list(self.detector(image, 1))
        if not found:
            return None
        if near is not None:
            cx, cy = (near.box[0] + near.box[2]) / 2, (near.box[1] + near.box[3]) / 2
            found.sort(key=lambda r: (r.center().x - cx) ** 2 + (r.center().y - cy) ** 2)
        shape = self.predictor(image, found[0])
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def points_in_box(self, image: np.ndarray, box) -> np.ndarray:
        shape = self.predictor(image, self.rectangle(*(round(v) for v in box)))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


# --- helpers ------------------------------------------------------------------------------------------------------

def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def main_face(detector: FaceDetector, image: np.ndarray) -> FaceDetection | None:
    faces = detector.detect([Frame(0, 0.0, image)])[0].faces
    return max(faces, key=lambda f: f.box[2] - f.box[0]) if faces else None


def with_mapping(landmarker: FaceLandmarker, image: np.ndarray, face: FaceDetection, mapping, passes: int):
    """The landmarker's points with another vertex mapping or number of passes (module settings, restored)."""
    saved = landmarks.IBUG_FROM_MESH, landmarks.PASSES
    landmarks.IBUG_FROM_MESH, landmarks.PASSES = mapping, passes
    try:
        return landmarker.landmarks(image, [face])[0]
    finally:
        landmarks.IBUG_FROM_MESH, landmarks.PASSES = saved


def per_face_ms(work, faces: int, repeats: int) -> float:
    """CPU time (this process, all threads) per face: unlike wall time, not inflated by other work on the machine."""
    work()  # warm: the runtime prepares its buffers for this batch size
    start = time.process_time()
    for _ in range(repeats):
        work()
    return (time.process_time() - start) / repeats / faces * 1000


def jitter(points: np.ndarray) -> float:
    """Mean |p_t - (p_t-1 + p_t+1) / 2| over points and frames, over the mean inter-ocular distance."""
    points = np.asarray(points, np.float64)
    middle = (points[:-2] + points[2:]) / 2
    eyes = np.linalg.norm(points[:, 45] - points[:, 36], axis=1).mean()
    return float(np.linalg.norm(points[1:-1] - middle, axis=2).mean() / eyes)


# --- figures ------------------------------------------------------------------------------------------------------

def error_rows(data: Path, detector: FaceDetector, landmarker: FaceLandmarker, dlib: Dlib | None) -> None:
    truth = json.loads((data / "faces" / "precomuted_landmarks.json").read_text())
    rows: dict[str, list[float]] = {}
    for name in FRAMES:
        image, reference = read_rgb(data / "faces" / name), np.asarray(truth[name], np.float32)[:68]
        face = main_face(detector, image)
        variants = {"dfdesk: MediaPipe mesh, fitted mapping, 2 passes": (landmarks.IBUG_FROM_MESH, 2),
                    "  the same, 1 pass (crop from MTCNN only)": (landmarks.IBUG_FROM_MESH, 1),
                    "  the same, Peizhi Yan's mapping": (YAN_MAPPING, 2)}
        for label, (mapping, passes) in variants.items():
            points = with_mapping(landmarker, image, face, mapping, passes)
            rows.setdefault(label, []).append(inter_ocular_error(points, reference))
        if dlib is not None:
            points = dlib.points(image, face)
            rows.setdefault("dlib 68 (comparison only, iBUG 300-W: non-commercial)", []).append(
                inter_ocular_error(points, reference) if points is not None else float("nan"))
    print("\nNME (68 points / outer-eye-corner distance) on DeepfakeBench frames " + ", ".join(FRAMES))
    for label, errors in rows.items():
        print(f"  {label:58s} " + "  ".join(f"{e:.4f}" for e in errors) + f"   mean {np.mean(errors):.4f}")


def time_rows(data: Path, detector: FaceDetector, dlib: Dlib | None) -> None:
    image = read_rgb(data / "faces" / FRAMES[0])
    face = main_face(detector, image)
    print("\nCPU time per face, warm (MTCNN excluded; process CPU seconds over all threads)")
    for threads in (1, 2):
        landmarker = FaceLandmarker(threads=threads)
        for batch in (1, 16):
            faces = [(image, [face])] * batch
            ms = per_face_ms(lambda lm=landmarker, f=faces: lm.landmarks_of_frames(f), batch, max(3, 48 // batch))
            print(f"  dfdesk landmarker, {threads} thread(s), batch {batch:2d}: {ms:6.2f} ms")
    if dlib is not None:
        print(f"  dlib 68-point predictor (given the face box), 1 thread: "
              f"{per_face_ms(lambda: dlib.points_in_box(image, face.box), 1, 50):6.2f} ms")


def clip_rows(data: Path, detector: FaceDetector, landmarker: FaceLandmarker, dlib: Dlib | None, frames: int) -> None:
    print(f"\nReal clips: the first {frames} consecutive frames, main face; jitter = second difference / eye distance")
    print(f"  {'clip':28s} {'faces':>5s} {'CPU ms/face':>11s} {'raw':>7s} {'calibr.':>7s} {'dlib':>7s}")
    for name in CLIPS:
        path = data / "videos" / name
        with VideoReader(path, probe_video(path)) as reader:
            decoded = list(reader.frames(range(frames)))
        faces = [main_face(detector, f.image) for f in decoded]
        kept = [(f, face) for f, face in itertools.takewhile(lambda pair: pair[1] is not None, zip(decoded, faces))]
        start = time.process_time()
        raw = [points[0] for points in landmarker.landmarks_of_frames([(f.image, [face]) for f, face in kept])]
        ms = (time.process_time() - start) / max(len(kept), 1) * 1000
        calibrator = LandmarkCalibrator()
        calibrated = [calibrator.step(cv2.cvtColor(f.image, cv2.COLOR_RGB2GRAY), p) for (f, _), p in zip(kept, raw)]
        dlib_jitter = (jitter([dlib.points_in_box(f.image, face.box) for f, face in kept])
                       if dlib is not None else float("nan"))
        print(f"  {name:28s} {len(kept):5d} {ms:11.2f} {jitter(raw):7.4f} {jitter(calibrated):7.4f} {dlib_jitter:7.4f}")


# --- mouth crops ----------------------------------------------------------------------------------------------

MOUTH_CLIPS = ("004.mp4", "634.mp4", "519.mp4", "750_743.mp4")


def lip_row(image: np.ndarray) -> int:
    """Row of the darkest band across the centre columns of an 88x88 mouth crop (as tests/real/test_faces_real)."""
    return 20 + int(np.argmin(image[20:70, 30:58].astype(float).mean(axis=1)))


def best_shift(image: np.ndarray, reference: np.ndarray, reach: int = 8) -> tuple[int, int]:
    """(dx, dy) that moves ``image`` onto ``reference`` best (highest correlation of their centre 72x72)."""
    def score(dx: int, dy: int) -> float:
        moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), image.shape[::-1],
                               borderMode=cv2.BORDER_REFLECT)
        return float(np.corrcoef(moved[8:-8, 8:-8].ravel(), reference[8:-8, 8:-8].ravel())[0, 1])
    return max(itertools.product(range(-reach, reach + 1), repeat=2), key=lambda shift: score(*shift))


def mouth_variants(points: np.ndarray) -> dict[str, np.ndarray | None]:
    """The 68 points as each framing reads them (mouth_frame centres on points 60-67)."""
    all_lips = points.copy()
    all_lips[60:68] = points[48:68].mean(axis=0)
    return {"MTCNN 5 points": None, "68: mean of 20 lip points": all_lips, "68: inner lip (dfdesk)": points}


def mouth_rows(data: Path, landmarker: FaceLandmarker) -> None:
    with av.open(str(data / "mouths" / "real.avi")) as container:
        reference = np.mean([f.to_ndarray(format="gray")[4:-4, 4:-4] for f in container.decode(video=0)], axis=0)
    print(f"Mouth crops against LipForensics' mouths/real.avi (lip line on row {lip_row(reference)} of its mean crop)")
    print(f"  {'clip':12s} {'framing':28s} {'lip row':>7s} {'corr.':>6s} {'shift dx, dy':>12s}")
    for name in MOUTH_CLIPS:
        path = data / "videos" / "ffpp" / name
        info = probe_video(path)
        plan = plan_sampling(info.frame_count, "uniform", frames=16)
        track = run_to_end(extract_faces(path, info, plan.indices, FaceSettings(), [])).main_track
        with VideoReader(path, info) as reader:
            images = [f.image for f in reader.frames(track.frame_indices)]
        points = [landmarker.landmarks(image, [d])[0] for image, d in zip(images, track.detections)]
        crops: dict[str, list[np.ndarray]] = {}
        for image, detection, face_points in zip(images, track.detections, points):
            for label, variant in mouth_variants(face_points).items():
                crops.setdefault(label, []).append(mouth_crop(image, detection, variant))
        for label, variant_crops in crops.items():
            mean = np.mean(variant_crops, axis=0).astype(np.float32)
            corr = np.corrcoef(mean[8:-8, 8:-8].ravel(), reference[8:-8, 8:-8].ravel())[0, 1]
            dx, dy = best_shift(mean, reference.astype(np.float32))
            print(f"  {name:12s} {label:28s} {lip_row(mean):7d} {corr:6.3f} {dx:6d}, {dy:3d}")


# --- the mapping --------------------------------------------------------------------------------------------------

def photo_pairs(data: Path, detector: FaceDetector, landmarker: FaceLandmarker, dlib: Dlib):
    """(mesh (N, 468, 2), dlib points (N, 68, 2)) for the training photos where both find the main face."""
    meshes, references = [], []
    for path in sorted((data / "train" / "real" / "photos").iterdir()):
        image = cv2.imread(str(path))
        if image is None:
            continue
        shrink = 800 / max(image.shape[:2])
        if shrink < 1:
            image = cv2.resize(image, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        face = main_face(detector, image)
        reference = dlib.points(image, face) if face is not None else None
        if reference is None or abs(reference[:, 0].mean() - (face.box[0] + face.box[2]) / 2) > 0.3 * (
                face.box[2] - face.box[0]):
            continue
        mesh = landmarker.meshes([image], [landmarks.square_from_detection(face)])[0]
        mesh = landmarker.meshes([image], [landmarks.square_from_mesh(mesh)])[0]
        meshes.append(mesh[:, :2])
        references.append(reference)
    return np.array(meshes), np.array(references)


def fit_mapping(meshes: np.ndarray, references: np.ndarray, candidates: int = 12, pair_gain: float = 0.002):
    """Per iBUG point: the vertex, or pair of vertices among the ``candidates`` nearest, whose mean lies closest
    to dlib's point on average (in eye distances); a pair must beat the best vertex by ``pair_gain``."""
    eyes = np.linalg.norm(references[:, 45] - references[:, 36], axis=1)
    mapping = []
    for point in range(68):
        single = (np.linalg.norm(meshes - references[:, point, None], axis=2) / eyes[:, None]).mean(axis=0)
        nearest = np.argsort(single)[:candidates]
        best, best_error = (int(nearest[0]),), single[nearest[0]]
        for pair in itertools.combinations(nearest, 2):
            error = (np.linalg.norm(meshes[:, list(pair)].mean(axis=1) - references[:, point], axis=1) / eyes).mean()
            if error < best_error - pair_gain:
                best, best_error = tuple(int(v) for v in pair), error
        mapping.append(best)
    return tuple(mapping)


def mapping_error(meshes: np.ndarray, references: np.ndarray, mapping) -> float:
    """Mean NME over the photos of ``mapping`` applied to their meshes."""
    points = np.stack([meshes[:, list(vertices)].mean(axis=1) for vertices in mapping], axis=1)
    eyes = np.linalg.norm(references[:, 45] - references[:, 36], axis=1)
    return float((np.linalg.norm(points - references, axis=2).mean(axis=1) / eyes).mean())


def mapping_report(data: Path, detector: FaceDetector, landmarker: FaceLandmarker, dlib: Dlib | None) -> None:
    if dlib is None:
        print("dlib-bin and face-recognition-models are needed to fit the mapping")
        return
    meshes, references = photo_pairs(data, detector, landmarker, dlib)
    order = np.random.default_rng(0).permutation(len(meshes))
    half_a, half_b = order[: len(order) // 2], order[len(order) // 2:]
    fitted_a = fit_mapping(meshes[half_a], references[half_a])
    print(f"{len(meshes)} photos with a face found by MTCNN and dlib; error in eye distances on the held-out half:")
    for label, mapping in [("fitted on the other half", fitted_a), ("Peizhi Yan's", YAN_MAPPING),
                           ("dfdesk's (IBUG_FROM_MESH)", landmarks.IBUG_FROM_MESH)]:
        print(f"  {label:28s} {mapping_error(meshes[half_b], references[half_b], mapping):.4f}")
    fitted = fit_mapping(meshes, references)
    print("fitted on all photos (IBUG_FROM_MESH):", fitted)
    print("same as dfdesk's:", fitted == landmarks.IBUG_FROM_MESH)


# --- LRNet from bench/eval_real.py's score cache ----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]
LRNET_CARDS = ("lrnet_demo", "lrnet_ffpp")


@dataclass(frozen=True)
class CachedScore:
    probability: float | None
    changed: tuple[str, ...]  # settings that differ from today's (empty: the entry is current)


def lrnet_score_cache():
    """The LRNet cards and the score cache bench/eval_real.py uses, keyed by today's scoring settings."""
    from trainer.config import StackingConfig
    from trainer.stacking import default_config
    from trainer.video_scorer import make_scorer, score_cache_for

    config = replace(default_config(), cache_dir=str(REPO / "out" / "crops"),
                     stacking=StackingConfig(models=LRNET_CARDS))
    scorer = make_scorer(config)  # loads the two small LRNet modules; scores nothing
    return config, scorer.cards, score_cache_for(config, scorer)


def changed_settings(old: dict, new: dict, prefix: str = "") -> tuple[str, ...]:
    """Dotted names of the settings whose values differ (JSON round trip: tuples compare as lists)."""
    old, new = json.loads(json.dumps(old)), json.loads(json.dumps(new))
    names = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += changed_settings(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key}")
    return tuple(names)


def cached_score(cache, sha256: str, card) -> CachedScore | None:
    """Today's entry for (clip, weights), else the newest entry made with other settings, else None."""
    hit, probability = cache.get(sha256, card)
    if hit:
        return CachedScore(probability, ())
    entries = sorted(cache.folder.glob(f"{sha256[:24]}-{card.weights_sha256[:24]}-*.json"),
                     key=lambda path: path.stat().st_mtime)
    if not entries:
        return None
    entry = json.loads(entries[-1].read_text(encoding="utf-8"))
    return CachedScore(entry.get("probability"), changed_settings(entry.get("settings", {}), cache.settings))


def lrnet_rows() -> None:
    from dfdesk.core.probe import sha256_file
    from trainer.stacking import labelled_videos

    config, cards, cache = lrnet_score_cache()
    _, clips = labelled_videos(config)
    scores = {card.name: {} for card in cards}
    for clip in clips:
        sha256 = sha256_file(clip.path)
        for card in cards:
            scores[card.name][clip.name] = cached_score(cache, sha256, card)
    print(f"LRNet video scores (mean block P(fake), main face) of {len(clips)} labelled clips from {cache.folder}")
    for card in cards:
        found = {name: s for name, s in scores[card.name].items() if s is not None and s.probability is not None}
        stale = sorted({setting for s in found.values() for setting in s.changed})
        print(f"\n{card.name} (weights {card.weights_sha256[:8]}): {len(found)} of {len(clips)} clips scored, "
              f"{sum(bool(s.changed) for s in found.values())} of them stale"
              + (f" (changed since: {', '.join(stale)})" if stale else ""))
        scored = [c for c in clips if c.name in found]
        if len({c.target for c in scored}) == 2:
            lrnet_auc_rows(scored, {c.name: found[c.name].probability for c in scored})


def lrnet_auc_rows(clips, value: dict) -> None:
    """AUC over every clip and per family (fake = positive), then each fake against its own original."""
    from trainer.metrics import roc_auc

    print(f"  AUC, all {len(clips)} clips: {roc_auc([c.target for c in clips], [value[c.name] for c in clips]):.3f}")
    reals = [c for c in clips if not c.target]
    for family in sorted({c.family for c in clips if c.target}, key=str):
        fakes = [c for c in clips if c.target and c.family == family]
        auc = roc_auc([1] * len(fakes) + [0] * len(reals), [value[c.name] for c in fakes + reals])
        print(f"  AUC, {family} ({len(fakes)}) vs all {len(reals)} reals: {auc:.3f}")
    for fake in (c for c in clips if c.target):
        for real in (c for c in clips if not c.target and c.group == fake.group):
            verdict = "above" if value[fake.name] > value[real.name] else "NOT above"
            print(f"  pair {Path(fake.name).stem} {value[fake.name]:.3f} {verdict} its original "
                  f"{Path(real.name).stem} {value[real.name]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100, help="consecutive frames per clip for the jitter")
    parser.add_argument("--mapping", action="store_true", help="re-derive the 468 -> 68 mapping instead")
    parser.add_argument("--mouth", action="store_true", help="compare mouth-crop framings instead")
    parser.add_argument("--lrnet", action="store_true", help="LRNet's video AUC from eval_real's score cache instead")
    args = parser.parse_args()
    data = paths.shared_data_dir()
    if data is None:
        raise SystemExit("../shared/data is absent")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    if args.lrnet:
        with tempfile.TemporaryDirectory() as folder:
            os.environ[paths.DATA_DIR_ENV] = folder  # never the analyst's own data folder
            lrnet_rows()
        return
    detector = FaceDetector(FaceSettings(device="cpu"))
    landmarker, dlib = FaceLandmarker(threads=1), Dlib.load()
    if dlib is None:
        print("dlib-bin / face-recognition-models not installed: dlib rows skipped")
    if args.mapping:
        mapping_report(data, detector, landmarker, dlib)
        return
    if args.mouth:
        mouth_rows(data, landmarker)
        return
    error_rows(data, detector, landmarker, dlib)
    time_rows(data, detector, dlib)
    clip_rows(data, detector, landmarker, dlib, args.frames)


if __name__ == "__main__":
    main()
