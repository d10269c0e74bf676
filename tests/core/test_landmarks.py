"""The 68-point landmarker: the 468 -> 68 mapping, the face square, and the points on a real face.

The face is the astronaut portrait that dfdesk ships for its sample clip (resources/sample), found by the real
MTCNN; the model is the bundled MediaPipe face mesh run by LiteRT.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from dfdesk import paths
from dfdesk.core import landmarks
from dfdesk.core.faces import FaceDetector
from dfdesk.core.landmarks import (
    IBUG_FROM_MESH,
    IBUG_POINTS,
    MESH_POINTS,
    FaceLandmarker,
    FaceSquare,
    crop_to_frame,
    mesh_to_ibug,
    shared_landmarker,
)
from dfdesk.core.types import FaceDetection, Frame

JAW, BROWS, NOSE = range(0, 17), range(17, 27), range(27, 36)
LEFT_EYE, RIGHT_EYE, MOUTH = range(36, 42), range(42, 48), range(48, 68)


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    return FaceLandmarker(threads=1)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    image = Image.open(paths.resource("sample", "astronaut.jpg")).convert("RGB")
    return np.asarray(image.resize((360, 360)))


@pytest.fixture(scope="module")
def face(detector: FaceDetector, portrait: np.ndarray) -> FaceDetection:
    faces = detector.detect([Frame(0, 0.0, portrait)])[0].faces
    assert len(faces) == 1
    return faces[0]


def test_the_mapping_names_68_points_of_one_or_two_mesh_vertices() -> None:
    assert len(IBUG_FROM_MESH) == IBUG_POINTS == 68
    assert all(1 <= len(vertices) <= 2 for vertices in IBUG_FROM_MESH)
    assert all(0 <= v < MESH_POINTS for vertices in IBUG_FROM_MESH for v in vertices)
    assert len(set(IBUG_FROM_MESH)) == 68  # no two iBUG points from the same vertices
    assert IBUG_FROM_MESH[8] == (152,)  # the chin is the mesh's chin vertex


def test_mesh_to_ibug_averages_the_mapped_vertices() -> None:
    mesh = np.zeros((MESH_POINTS, 3), np.float32)
    mesh[:, 0] = np.arange(MESH_POINTS)  # x = vertex number
    points = mesh_to_ibug(mesh)
    assert points.shape == (68, 2) and points.dtype == np.float32
    assert [float(x) for x in points[:, 0]] == [sum(v) / len(v) for v in IBUG_FROM_MESH]


def test_the_face_square_maps_its_centre_to_the_crop_centre_and_back() -> None:
    square = FaceSquare((300.0, 200.0), 150.0, math.radians(20))
    matrix = square.to_crop()
    middle = (landmarks.INPUT_SIZE - 1) / 2
    assert np.allclose(matrix @ (300.0, 200.0, 1.0), (middle, middle))
    # a point on the eye line (turned by 20 degrees) lands on the crop's horizontal middle line
    on_line = (300.0 + 50 * math.cos(math.radians(20)), 200.0 + 50 * math.sin(math.radians(20)), 1.0)
    assert (matrix @ on_line)[1] == pytest.approx(middle, abs=1e-6)
    points = np.array([[10.0, 20.0], [150.0, 80.0]])
    assert np.allclose(crop_to_frame(points @ matrix[:, :2].T + matrix[:, 2], square), points, atol=1e-6)


def assert_anatomical_order(points: np.ndarray) -> None:
    """Brows above eyes above nose above mouth above chin; image-left points left of the nose; mouth inside the
    jaw's hull: in the face's own frame (turned so the outer eye corners are level, as a head may tilt).
    Also used on the real photos (tests/real/test_landmarks_real.py)."""
    (lx, ly), (rx, ry) = points[36], points[45]
    assert rx > lx  # the eye on the image left is the first one (before any turning)
    angle = math.atan2(ry - ly, rx - lx)
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    points = (points @ turn.T).astype(np.float32)
    y = points[:, 1]
    eyes_y = points[list(LEFT_EYE) + list(RIGHT_EYE), 1].mean()
    assert y[list(BROWS)].max() < eyes_y < y[list(NOSE)[4:]].min() < y[list(MOUTH)].min()  # brows, eyes, nose, mouth
    assert y[8] == y[list(JAW)].max() and y[8] > y[list(MOUTH)].max()  # the chin is the lowest jaw point
    assert points[[0, 16], 1].max() < y[list(MOUTH)].min()  # the jaw line starts beside the eyes
    # image left stays image left: jaw 0-7, left brow, left eye and mouth corner 48 on one side of the nose line
    nose_x = points[27:31, 0].mean()
    for left, right in [(0, 16), (3, 13), (17, 26), (36, 45), (39, 42), (31, 35), (48, 54), (60, 64)]:
        assert points[left, 0] < nose_x < points[right, 0], (left, right)
    hull = cv2.convexHull(points[list(JAW)].reshape(-1, 1, 2))
    assert all(cv2.pointPolygonTest(hull, (float(x), float(yy)), False) > 0 for x, yy in points[list(MOUTH)])


def test_landmarks_of_a_real_face_are_in_anatomical_order(landmarker: FaceLandmarker, portrait: np.ndarray,
                                                          face: FaceDetection) -> None:
    points = landmarker.landmarks(portrait, [face])[0]
    assert points.shape == (68, 2) and points.dtype == np.float32
    assert_anatomical_order(points)
    x1, y1, x2, y2 = face.box
    assert (points[:, 0].min() > x1 - 0.2 * (x2 - x1)) and (points[:, 0].max() < x2 + 0.2 * (x2 - x1))
    eye_gap = np.linalg.norm(points[45] - points[36])
    assert 0.3 * (x2 - x1) < eye_gap < 0.8 * (x2 - x1)


def test_points_follow_the_face_when_the_frame_is_turned(landmarker: FaceLandmarker, portrait: np.ndarray,
                                                         face: FaceDetection) -> None:
    """The square is turned by the eye line: a face turned by 25 degrees gets the same points, turned."""
    upright = landmarker.landmarks(portrait, [face])[0]
    centre = (179.5, 179.5)
    matrix = cv2.getRotationMatrix2D(centre, 25, 1.0)
    turned_image = cv2.warpAffine(portrait, matrix, (360, 360), borderMode=cv2.BORDER_REFLECT)
    turned_points = (face.landmarks @ matrix[:, :2].T + matrix[:, 2]).tolist()
    x1, y1, x2, y2 = face.box
    corners = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]]) @ matrix[:, :2].T + matrix[:, 2]
    box = (*corners.min(axis=0), *corners.max(axis=0))
    turned_face = FaceDetection(tuple(float(v) for v in box), face.score, tuple(tuple(p) for p in turned_points))
    turned = landmarker.landmarks(turned_image, [turned_face])[0]
    expected = upright @ matrix[:, :2].T + matrix[:, 2]
    eye_gap = np.linalg.norm(upright[45] - upright[36])
    assert np.linalg.norm(turned - expected, axis=1).mean() < 0.05 * eye_gap


def test_batched_faces_get_the_points_they_get_alone(landmarker: FaceLandmarker, portrait: np.ndarray,
                                                     face: FaceDetection) -> None:
    mirrored = np.ascontiguousarray(portrait[:, ::-1])
    (x1, y1, x2, y2), points = face.box, face.landmarks
    flipped = FaceDetection((359 - x2, y1, 359 - x1, y2), face.score,
                            tuple((359 - x, y) for x, y in (points[1], points[0], points[2], points[4], points[3])))
    alone = [landmarker.landmarks(portrait, [face])[0], landmarker.landmarks(mirrored, [flipped])[0]]
    together = landmarker.landmarks_of_frames([(portrait, [face]), (mirrored, [flipped]), (portrait, [])])
    assert [len(points) for points in together] == [1, 1, 0]
    assert np.allclose(together[0][0], alone[0], atol=1e-3) and np.allclose(together[1][0], alone[1], atol=1e-3)
    assert landmarker.landmarks(portrait, []) == []


def test_the_model_ships_with_dfdesk_and_one_landmarker_is_shared() -> None:
    assert landmarks.model_path().is_file() and landmarks.model_path().parent == paths.resource("landmarks")
    assert shared_landmarker() is shared_landmarker()


def test_the_runtime_writes_nothing_on_stderr() -> None:
    """The command line prints one line on stderr for an error and nothing otherwise; LiteRT's delegate notice
    would break that."""
    import subprocess
    import sys

    script = ("import numpy as np\n"
              "from dfdesk.core.landmarks import FaceLandmarker\n"
              "from dfdesk.core.types import FaceDetection\n"
              "box = FaceDetection((50, 50, 150, 150), 0.99,\n"
              "                    ((80, 90), (120, 90), (100, 110), (85, 130), (115, 130)))\n"
              "print(FaceLandmarker().landmarks(np.zeros((200, 200, 3), np.uint8), [box])[0].shape)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "(68, 2)" and done.stderr == ""
