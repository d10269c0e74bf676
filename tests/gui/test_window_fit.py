"""The main window fits the screen at first start: a 1366x768 laptop and a 1920x1080 screen at 150 % scaling.

Each case runs the app in a subprocess on Qt's offscreen platform configured with a screen of that size
(QT_SCALE_FACTOR for the scaling), since a screen's size and scale are fixed once a QApplication exists."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfdesk.gui.main_window import FRAME_ALLOWANCE

ROOT = Path(__file__).resolve().parents[2]
TASKBAR = 48  # device pixels a desktop's panel typically takes from the screen (offscreen screens have none)


def probe(tmp_path: Path, width: int, height: int, scale: float) -> dict:
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"screens": [{"name": "probe", "x": 0, "y": 0, "width": width, "height": height,
                                               "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}))
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={config}", QT_SCALE_FACTOR=str(scale))
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "gui" / "window_fit_probe.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def inside(inner: list[int], outer: list[int]) -> bool:
    x, y, w, h = inner
    ox, oy, ow, oh = outer
    return ox <= x and oy <= y and x + w <= ox + ow and y + h <= oy + oh


@pytest.mark.parametrize(("width", "height", "scale"), [(1366, 768, 1.0), (1920, 1080, 1.5)])
def test_the_window_and_its_status_bar_fit_the_screen(tmp_path: Path, width, height, scale):
    shown = probe(tmp_path, width, height, scale)
    room = shown["available"]
    assert room[2:] == [round(width / scale), round(height / scale)]  # logical pixels at that scale
    assert inside(shown["frame"], room)  # the window with its frame
    assert shown["status_bar_visible"] and inside(shown["status_bar"], room)
    assert shown["finding_whole"]  # the finding form, whole, without scrolling
    assert inside(shown["about_frame"], room) and not shown["about_scrolls"]  # About shows all of its text
    # with a desktop panel and a title bar taken too, the window could still shrink to fit
    min_w, min_h = shown["minimum"]
    assert min_w + FRAME_ALLOWANCE.width() <= room[2]
    assert min_h + FRAME_ALLOWANCE.height() + TASKBAR / scale <= room[3]
