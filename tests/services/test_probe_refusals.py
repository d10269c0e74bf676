"""Probe refusals that the CLI corpus cannot reach on every machine."""
from __future__ import annotations

from pathlib import Path

import pytest

from dfdesk.core import probe


def test_unreadable_file_is_refused_before_opening(clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As root the mode bits are not enforced, so the access check itself is made to say "no".
    monkeypatch.setattr(probe.os, "access", lambda _path, _mode: False)
    with pytest.raises(probe.VideoError, match="permission denied"):
        probe.probe_video(clip_dir / "face.mp4")


def test_huge_declared_dimensions_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clip_dir) -> None:
    monkeypatch.setattr(probe, "MAX_PIXELS", 320 * 240 - 1)
    with pytest.raises(probe.VideoError, match="too large"):
        probe.probe_video(clip_dir / "face.mp4")
