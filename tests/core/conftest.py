"""Fixtures of the core tests: one real MTCNN for the session, a two-face clip."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core.faces import FaceDetector, FaceSettings
from tests.fixtures import clips

SMALL = FaceSettings(detect_longest_side=320, batch_size=8, device="cpu")


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector(SMALL)


@pytest.fixture(scope="session")
def two_face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clips.make_two_face_clip(tmp_path_factory.mktemp("two") / "two.mp4")
