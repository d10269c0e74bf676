"""The player's "Landmarks" check box: off by default; on, the 68 points of the face in the frame shown are found
off the GUI thread (real MTCNN and face mesh) and drawn; off again, they go."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.probe import probe_video
from dfdesk.gui.frames import FrameSource
from dfdesk.gui.views.player import LANDMARK_COLOUR, PlayerView


@pytest.fixture
def player(qtbot, clip_dir: Path) -> PlayerView:
    path = clip_dir / "face.mp4"
    view = PlayerView(lambda _index: [])
    qtbot.addWidget(view)
    view.resize(640, 520)
    view.show()
    view.open(FrameSource(probe_video(path)), 25.0)
    qtbot.waitUntil(lambda: view.position == 0 and not view.busy, timeout=5000)
    yield view
    view.close_source()


def landmark_pixels(view: PlayerView) -> int:
    """How many pixels of the canvas have the landmarks' colour."""
    image = view.canvas.grab().toImage().convertToFormat(view.canvas.grab().toImage().Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = pixels[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(int)
    target = np.array([int(LANDMARK_COLOUR[i: i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).sum(axis=2) < 60).sum())


def test_the_landmarks_toggle_shows_and_hides_the_points(qtbot, player: PlayerView) -> None:
    assert not player.landmarks_box.isChecked() and player.canvas.landmarks == []
    before = landmark_pixels(player)
    player.landmarks_box.setChecked(True)
    qtbot.waitUntil(lambda: len(player.canvas.landmarks) == 1, timeout=30_000)
    (points,) = player.canvas.landmarks
    assert points.shape == (68, 2)
    assert (0 <= points[:, 0]).all() and (points[:, 0] < 320).all()  # on the face in the 320x240 frame
    assert landmark_pixels(player) > before + 68  # drawn: a dot per point

    player.step(5)  # a new frame: its own points, found again
    qtbot.waitUntil(lambda: player.position == 5 and len(player.canvas.landmarks) == 1, timeout=30_000)
    assert player.canvas.landmarks[0][:, 0].mean() > points[:, 0].mean()  # the face moves right in this clip

    player.landmarks_box.setChecked(False)
    assert player.canvas.landmarks == [] and landmark_pixels(player) <= before
    player.step(1)
    qtbot.waitUntil(lambda: player.position == 6 and not player.busy, timeout=5000)
    qtbot.wait(200)
    assert player.canvas.landmarks == []  # off: nothing is looked for
