"""Ingest every real clip and compare what dfdesk recorded with FFmpeg's own probe (ffprobe); sparse decoding."""
from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from dfdesk.core.probe import probe_video
from dfdesk.core.sampling import plan_sampling
from dfdesk.core.video import iter_frames
from dfdesk.services.ingest import ingest_video
from dfdesk.store.database import Database
from dfdesk.store.tables import Evidence

pytestmark = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (Debian package ffmpeg) missing")


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=width,height,avg_frame_rate,nb_frames,nb_read_packets,duration:"
                          "stream_side_data=rotation:format=duration", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    return {**data["streams"][0], "format_duration": data["format"].get("duration")}


def test_every_shared_video_agrees_with_ffprobe(shared_data: Path, db: Database) -> None:
    videos = sorted((shared_data / "videos").rglob("*.mp4")) + sorted((shared_data / "mouths").glob("*.avi"))
    assert len(videos) >= 12
    for video in videos:
        result = ingest_video(db, "real", video, "tester")
        with db.unit_of_work() as session:
            evidence = session.get(Evidence, result.evidence_id)
        truth = ffprobe(video)
        rotation = int(float(truth.get("side_data_list", [{}])[0].get("rotation", 0))) if truth.get(
            "side_data_list") else 0
        width, height = (truth["height"], truth["width"]) if rotation % 180 else (truth["width"], truth["height"])
        assert (evidence.width, evidence.height) == (width, height), video.name
        assert evidence.fps == pytest.approx(float(Fraction(truth["avg_frame_rate"])), rel=1e-3), video.name
        frames = int(truth.get("nb_frames") or truth["nb_read_packets"])
        assert evidence.frame_count == frames, video.name
        duration = float(truth.get("duration") or truth["format_duration"])
        assert evidence.duration_s == pytest.approx(duration, abs=0.05), video.name


def test_sparse_decoding_gives_the_same_pixels_as_decoding_everything(shared_data: Path) -> None:
    """Sparse requests let FFmpeg drop unwanted non-reference frames; the wanted frames must not change."""
    videos = sorted((shared_data / "videos").rglob("*.mp4")) + sorted((shared_data / "mouths").glob("*.avi"))
    for video in videos:
        info = probe_video(video)
        wanted = plan_sampling(info.frame_count, "uniform", frames=16).indices
        dense = {f.index: f.image for f in iter_frames(video, info) if f.index in set(wanted)}
        sparse = list(iter_frames(video, info, wanted))
        assert [f.index for f in sparse] == sorted(dense), video.name
        assert all(np.array_equal(f.image, dense[f.index]) for f in sparse), video.name
