"""`dfdesk analyze --stream N` on a file with two video streams (issue 21, point 3): the real command line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.streams import two_video_streams


@pytest.fixture
def two_streams(tmp_path: Path) -> Path:
    return two_video_streams(tmp_path / "two.mkv", default=1, face_on=1, audio=True)


def test_stream_0_is_analysed_when_asked_for_with_a_warning_on_stderr(dfdesk, two_streams: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = dfdesk("analyze", str(two_streams), "--stream", "0", "--json", str(out), "--models", "meso4_df",
                    "--frames", "4", "--device", "cpu")
    assert result.code == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["settings"]["stream_index"] == 0 and document["verdict"] == "no_face"
    warning = "2 video streams: stream 0 is analysed, stream(s) 1 not"
    assert any(warning in w for w in document["warnings"])
    assert [line for line in result.stderr.splitlines() if warning in line][0].startswith("warning: ")


@pytest.mark.parametrize("stream", ["2", "9", "-1"])
def test_a_stream_that_is_not_a_video_stream_is_bad_input(dfdesk, two_streams: Path, stream: str) -> None:
    result = dfdesk("analyze", str(two_streams), "--stream", stream, "--models", "meso4_df", "--device", "cpu")
    assert result.code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and "stream" in result.stderr
    assert not dfdesk.db_path.exists()  # refused before the database is opened
