"""68 facial landmarks in the iBUG 300-W order for faces found by MTCNN, from MediaPipe's face mesh.

The model is MediaPipe's ``face_landmark.tflite`` (Apache-2.0; 468 mesh vertices from a 192x192 RGB crop, values in
[0, 1]), shipped in ``resources/landmarks`` (see SOURCE.md there) and run by LiteRT (``ai-edge-litert``), batched.

The crop is built as MediaPipe builds it (``face_landmark_front`` graph; read in patlevin/face-detection-tflite,
``fdlite/face_landmark.py``: ``face_detection_to_roi``, ``ROI_SCALE`` 1.5): a square around the face, 1.5 times its
longer side, turned so the eye line is level.  Two passes: the first square comes from MTCNN's box and eyes; the
second from the first pass's mesh (its bounding box and the eye corners 33 and 263), which is how MediaPipe frames
a face it tracks and so what the model was trained on.  The mesh's 468 vertices are then reduced to the 68 iBUG
points by :data:`IBUG_FROM_MESH`.
"""
from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from dfdesk import paths
from dfdesk.core.types import FaceDetection

MODEL_FILE = "face_landmark.tflite"
INPUT_SIZE = 192  # the mesh model's square input, pixels
MESH_POINTS = 468
ROI_SCALE = 1.5  # side of the crop / longer side of the face's box (MediaPipe's RectTransformation)
MESH_EYE_CORNERS = (33, 263)  # outer eye corners (image left, image right): MediaPipe's rotation keypoints
PASSES = 2  # 1: crop from MTCNN only; 2: crop again from the first mesh (see the module docstring)

# Each iBUG 300-W point (0-based, in order) as the mean of one or two face-mesh vertices.  Where the vertices come
# from: for every iBUG point, the single vertex or pair of vertices (among the 12 nearest) whose mean lies closest,
# on average, to dlib's 68-point predictor (trained on iBUG 300-W) over the 190 photos of
# ../shared/data/train/real/photos where both found the face; a pair is kept only when it beats the best single
# vertex by 0.002 inter-ocular distances.  Fitted on one half of the photos, it errs 0.042 on the other half
# (Peizhi Yan's hand-made correspondence, github.com/PeizhiYan/Mediapipe_2_Dlib_Landmarks mp2dlib.py, 0.060: its
# jaw and eyebrows sit on the mesh's silhouette and upper brow line, dlib's lower).  ``python -m bench.landmarks
# mapping`` re-derives and prints it.  The DeepfakeBench frames used to test the error were not part of the fit.
IBUG_FROM_MESH: tuple[tuple[int, ...], ...] = (
    # 0-16 jaw line, image left (the subject's right) to image right, through the chin (8 = vertex 152)
    (234, 162), (234, 123), (132, 123), (215,), (172, 138), (136, 169), (149,), (148, 176), (152,),
    (377, 400), (378,), (365, 379), (397,), (435,), (361, 366), (447, 323), (356,),
    # 17-21 eyebrow on the image left, outer to inner; 22-26 eyebrow on the image right, inner to outer
    (46,), (63, 52), (52, 66), (65, 107), (221, 9),
    (285,), (295, 336), (296, 283), (283, 293), (276, 383),
    # 27-30 nose bridge, top to tip; 31-35 lower nose, image left to right
    (168, 6), (197,), (281, 3), (4,),
    (240, 60), (97,), (2, 164), (326,), (327, 290),
    # 36-41 eye on the image left from its outer corner, clockwise; 42-47 eye on the image right from its inner corner
    (246, 144), (28, 163), (157, 158), (112,), (153, 22), (145, 144),
    (382, 256), (380, 258), (373, 257), (249,), (373, 254), (450, 384),
    # 48-59 outer lip from the left corner, clockwise (upper lip first); 60-67 inner lip the same way
    (76, 146), (39, 80), (37, 72), (11,), (267, 302), (304, 303), (291, 273), (406, 320), (315, 313), (16, 18),
    (84,), (182, 89),
    (77, 183), (82,), (13,), (268,), (375, 407), (317, 316), (14, 15), (87,),
)
IBUG_POINTS = 68
OUTER_EYE_CORNERS = (36, 45)  # iBUG indices used to normalise errors (inter-ocular distance)


def model_path() -> Path:
    """The bundled face-mesh model (through dfdesk.paths: the source tree or the frozen app)."""
    return paths.resource("landmarks", MODEL_FILE)


def mesh_to_ibug(mesh: np.ndarray) -> np.ndarray:
    """(..., 468, 2+) mesh vertices -> (..., 68, 2) float32 iBUG points (means of the mapped vertices)."""
    xy = np.asarray(mesh, np.float32)[..., :2]
    return np.stack([xy[..., list(vertices), :].mean(axis=-2) for vertices in IBUG_FROM_MESH], axis=-2)


@dataclass(frozen=True)
class FaceSquare:
    """A square region of the frame, turned by ``angle`` (radians, the eye line's slope), that the model sees."""

    centre: tuple[float, float]
    side: float
    angle: float

    def to_crop(self) -> np.ndarray:
        """2x3 affine map from frame pixel centres to the pixel centres of the INPUT_SIZE crop."""
        matrix = cv2.getRotationMatrix2D(self.centre, math.degrees(self.angle), INPUT_SIZE / max(self.side, 1e-6))
        middle = (INPUT_SIZE - 1) / 2
        matrix[:, 2] += (middle - self.centre[0], middle - self.centre[1])
        return matrix


def square_from_detection(detection: FaceDetection) -> FaceSquare:
    """MediaPipe's ROI built from MTCNN's box (square of the longer side x ROI_SCALE) and its two eyes."""
    x1, y1, x2, y2 = detection.box
    (lx, ly), (rx, ry) = detection.landmarks[:2]
    side = max(x2 - x1, y2 - y1) * ROI_SCALE
    return FaceSquare(((x1 + x2) / 2, (y1 + y2) / 2), side, math.atan2(ry - ly, rx - lx))


def square_from_mesh(mesh: np.ndarray) -> FaceSquare:
    """MediaPipe's tracking ROI: the mesh's bounding box (square of the longer side x ROI_SCALE) turned by the
    line through the outer eye corners."""
    low, high = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    (lx, ly), (rx, ry) = mesh[MESH_EYE_CORNERS[0], :2], mesh[MESH_EYE_CORNERS[1], :2]
    side = float(max(high - low)) * ROI_SCALE
    centre = (low + high) / 2
    return FaceSquare((float(centre[0]), float(centre[1])), side, math.atan2(ry - ly, rx - lx))


def crop_for_model(image: np.ndarray, square: FaceSquare) -> np.ndarray:
    """float32 (INPUT_SIZE, INPUT_SIZE, 3) in [0, 1]: the square of the RGB ``image``, zeros outside it."""
    crop = cv2.warpAffine(image, square.to_crop(), (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    return crop.astype(np.float32) / 255.0


def crop_to_frame(points: np.ndarray, square: FaceSquare) -> np.ndarray:
    """(N, 2) crop pixel-centre coordinates -> frame pixel-centre coordinates (inverse of ``to_crop``)."""
    back = cv2.invertAffineTransform(square.to_crop())
    return points @ back[:, :2].T + back[:, 2]


class FaceLandmarker:
    """Runs the face mesh on batches of faces; one instance may be shared between threads (calls are serialised).

    ``threads``: CPU threads for the model; 0 lets the runtime choose.
    """

    def __init__(self, threads: int = 0):
        from ai_edge_litert.interpreter import Interpreter  # loaded on first use: the GUI starts without it

        self._interpreter = Interpreter(model_path=str(model_path()), num_threads=threads or None)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._mesh_output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        self._lock = threading.Lock()

    def landmarks(self, image: np.ndarray, detections: Sequence[FaceDetection]) -> list[np.ndarray]:
        """(68, 2) float32 points in full-frame pixel coordinates (x, y) for each detection, batched."""
        return self.landmarks_of_frames([(image, detections)])[0]

    def landmarks_of_frames(self, frames: Sequence[tuple[np.ndarray, Sequence[FaceDetection]]]
                            ) -> list[list[np.ndarray]]:
        """:meth:`landmarks` of several (image, detections) pairs, all faces in one batch."""
        faces = [(image, detection) for image, detections in frames for detection in detections]
        if not faces:
            return [[] for _ in frames]
        squares = [square_from_detection(detection) for _, detection in faces]
        images = [image for image, _ in faces]
        meshes = self.meshes(images, squares)
        for _ in range(PASSES - 1):
            meshes = self.meshes(images, [square_from_mesh(mesh) for mesh in meshes])
        points = iter(mesh_to_ibug(mesh) for mesh in meshes)
        return [[next(points) for _ in detections] for _, detections in frames]

    def meshes(self, images: Sequence[np.ndarray], squares: Sequence[FaceSquare]) -> list[np.ndarray]:
        """(468, 3) float32 mesh of each square of its image: x, y in frame pixels, z (relative depth) in crop
        pixels."""
        batch = np.stack([crop_for_model(image, square) for image, square in zip(images, squares)])
        raw = self._run(batch).reshape(len(squares), MESH_POINTS, 3)
        raw[:, :, :2] -= 0.5  # the model's coordinates run from the crop's edge; pixel centres sit half a pixel in
        meshes = []
        for square, mesh in zip(squares, raw):
            mesh[:, :2] = crop_to_frame(mesh[:, :2], square)
            meshes.append(mesh.astype(np.float32))
        return meshes

    def _run(self, batch: np.ndarray) -> np.ndarray:
        with self._lock:
            if len(batch) != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                with _native_stderr_silenced():  # LiteRT announces its CPU delegate on stderr, once per process
                    self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._mesh_output).copy()


@contextmanager
def _native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to /dev/null for the duration (the command line's
    contract is one line on stderr for an error, and nothing for a successful run)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@lru_cache(maxsize=1)
def shared_landmarker() -> FaceLandmarker:
    """One landmarker for the whole process (like ``faces.shared_detector``)."""
    return FaceLandmarker()


def inter_ocular_error(points: np.ndarray, truth: np.ndarray) -> float:
    """Mean point-to-point distance over the 68 points divided by the outer-eye-corner distance of ``truth``."""
    left, right = OUTER_EYE_CORNERS
    scale = float(np.linalg.norm(truth[right] - truth[left]))
    return float(np.linalg.norm(points - truth, axis=1).mean() / scale)
