"""Far seeks in the player: time until the frame is on screen, and how long the window stalls meanwhile.

The player decodes on its own thread (gui/frame_loader.py); the baseline decodes the same frames on
the GUI thread, as the player did before.  A 5 ms QTimer probe on the GUI thread measures the stalls.
Prints figures; asserts nothing.  Usage:

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/player_seek.py [VIDEO]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

PROBE_MS = 5


def default_video() -> Path:
    from dfdesk import paths

    shared = paths.shared_data_dir()
    if shared is None:
        sys.exit("no video given and ../shared/data is absent")
    return shared / "videos" / "ffpp" / "750_743.mp4"  # 1080p, two keyframes in 311 frames


class Probe:
    """Records how late each 5 ms tick of a GUI-thread timer arrives."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.stalls: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.timeout.connect(self._tick)
        self._timer.start(PROBE_MS)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls.append(max(0.0, (now - self._last) * 1000 - PROBE_MS))
        self._last = now

    def take(self) -> float:
        worst, self.stalls = max(self.stalls, default=0.0), []
        return worst


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from dfdesk.core.probe import probe_video
    from dfdesk.gui.frames import FrameSource
    from dfdesk.gui.views.player import PlayerView

    app = QApplication.instance() or QApplication(sys.argv)
    video = Path(sys.argv[1]) if len(sys.argv) > 1 else default_video()
    info = probe_video(video)
    n = info.frame_count
    targets = [n - 1, n - 2, n // 2, 10, 3 * n // 4, n // 4]  # the second: one step back
    player = PlayerView(lambda _index: [])
    player.open(FrameSource(info), info.fps)

    def wait_for(done) -> None:
        while not done():
            app.processEvents()
            time.sleep(0.001)

    wait_for(lambda: player.position == 0 and not player.busy)
    probe = Probe()
    print(f"{video.name}: {info.width}x{info.height}, {n} frames; seeks to {targets}")
    print(f"{'target':>7} {'player: to screen ms':>21} {'worst GUI stall ms':>19} | {'GUI-thread decode ms':>21}")
    baseline = FrameSource(info)
    for target in targets:
        probe.take()
        start = time.perf_counter()
        player.seek(target)
        wait_for(lambda t=target: player.position == t and not player.busy)
        to_screen, stall = (time.perf_counter() - start) * 1000, probe.take()
        start = time.perf_counter()
        baseline.frame(target)
        blocked = (time.perf_counter() - start) * 1000
        app.processEvents()
        probe.take()
        print(f"{target:>7} {to_screen:>21.0f} {stall:>19.0f} | {blocked:>21.0f}")
    baseline.close()
    player.close_source()


if __name__ == "__main__":
    main()
