"""The hostile video corpus through the real command line: each input is analysed, found to have no face,
or refused with one line, with the exit code of the contract, and the case database stays intact."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dfdesk.core import video
from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import AnalysisError, AnalysisRequest, run_analysis
from dfdesk.services.ingest import ingest_video
from dfdesk.store.database import Database
from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems, counts, dump, half_written, integrity

REFUSED = {  # name: (generator, words the one-line message must hold)
    "zero-byte": (hostile.zero_byte, "empty"),
    "truncated 5%": (lambda f, base: hostile.truncated(f, base, 0.05), "not a readable video"),
    "truncated 30%": (lambda f, base: hostile.truncated(f, base, 0.30), "not a readable video"),
    "truncated 70%": (lambda f, base: hostile.truncated(f, base, 0.70), "not a readable video"),
    "truncated 95%": (lambda f, base: hostile.truncated(f, base, 0.95), ""),
    "random bytes named .mp4": (hostile.random_bytes, "not a readable video"),
    "audio only": (hostile.audio_only, "audio only"),
    "16000x16000 raw header": (hostile.huge_dimensions_y4m, "16000x16000 is too large"),
    "16000x16000 VP8 header": (hostile.huge_dimensions_vp8, "16000x16000 is too large"),
}
ANALYSED = {  # name: (generator, checks on the JSON "video" block)
    "WebM named .mp4": (hostile.webm_named_mp4, {"width": 320, "height": 240}),
    "MP4 named .avi": (hostile.mp4_named_avi, {"width": 320, "height": 240}),
    "VP9/WebM": (hostile.vp9_webm, {"frames": 10}),
    "10-bit HEVC": (hostile.hevc_10bit, {"frames": 10}),
    "MJPEG AVI": (hostile.mjpeg_avi, {"frames": 10}),
    "interlaced": (hostile.interlaced, {"width": 320, "height": 240}),
    "variable frame rate": (hostile.variable_frame_rate, {"vfr": True}),
    "rotation 90": (lambda f, _b: hostile.rotated(f, 90), {"width": 240, "height": 320, "rotation": 90}),
    "rotation 180": (lambda f, _b: hostile.rotated(f, 180), {"width": 240, "height": 320, "rotation": 180}),
    "rotation 270": (lambda f, _b: hostile.rotated(f, 270), {"width": 240, "height": 320, "rotation": 270}),
    "grayscale": (hostile.grayscale, {"frames": 10}),
    "one frame only": (hostile.one_frame, {"frames": 1}),
    "path with spaces and non-ASCII": (hostile.awkward_path, {"frames": 10}),
    "symlink": (hostile.symlink, {"frames": 10}),
    "read-only folder, mode 0444": (hostile.read_only, {"frames": 10}),
}


def _make(generator, folder: Path) -> Path:
    base = hostile.h264(folder, "base_for_damage.mp4", n=30)
    try:
        try:
            return generator(folder, base)
        except TypeError:
            return generator(folder)
    except hostile.MissingEncoder as exc:
        pytest.skip(str(exc))


def _healthy(db_path: Path) -> None:
    assert integrity(db_path) == "ok"
    assert audit_problems(db_path) == []
    assert half_written(db_path) == []


@pytest.fixture
def seeded(cli, tmp_path: Path):
    """A database that already holds a case, so 'unchanged' means something."""
    assert cli("case", "new", "Existing case").code == 0
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_inputs_exit_2_with_one_line_and_leave_the_database_as_it_was(cli, seeded: Path, name: str) -> None:
    generator, words = REFUSED[name]
    path = _make(generator, seeded)
    before = dump(cli.db_path)
    out = seeded / "never.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 2, result.stderr
    assert len(result.error_lines) == 1 and result.error_lines[0].startswith("dfdesk: error: ")
    assert path.name in result.stderr and words in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert dump(cli.db_path) == before
    _healthy(cli.db_path)


@pytest.mark.parametrize("name", list(ANALYSED))
def test_awkward_but_valid_inputs_are_analysed(cli, seeded: Path, name: str) -> None:
    generator, expected = ANALYSED[name]
    path = _make(generator, seeded)
    before = counts(cli.db_path)
    out = seeded / "result.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 0, result.stderr
    assert result.error_lines == []
    document = json.loads(out.read_text())
    assert {k: document["video"][k] for k in expected} == expected
    assert document["video"]["path"] == str(path)
    assert document["status"] == "done" and document["verdict"] in ("fake", "real", "inconclusive")
    assert document["faces"]["tracks"] >= 1 and document["faces"]["frames_with_face"] >= 1
    after = counts(cli.db_path)
    assert (after["evidence"], after["analyses"]) == (before["evidence"] + 1, before["analyses"] + 1)
    assert after["frame_scores"] > 0
    _healthy(cli.db_path)


def test_corrupted_bytes_mid_stream_are_analysed_as_far_as_they_decode(cli, seeded: Path) -> None:
    path = _make(lambda f, base: hostile.corrupted_mid_stream(f, base), seeded)
    out = seeded / "result.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 0, result.stderr
    assert json.loads(out.read_text())["verdict"] in ("fake", "real", "inconclusive", "no_face")
    _healthy(cli.db_path)


def test_a_face_below_the_minimum_size_is_a_no_face_outcome(cli, seeded: Path) -> None:
    path = _make(hostile.tiny_face, seeded)
    out = seeded / "result.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["verdict"] == "no_face" and document["fake_probability"] is None
    assert "no face was found" in document["explanation"]
    assert f"analysis {document['analysis_id']}: no face found" in result.stdout  # the headline, never the raw value
    assert counts(cli.db_path)["frame_scores"] == 0
    _healthy(cli.db_path)


@pytest.mark.slow
def test_twenty_faces_in_view_give_twenty_tracks(cli, seeded: Path) -> None:
    path = _make(hostile.twenty_faces, seeded)
    out = seeded / "result.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["faces"]["tracks"] == 20
    assert sum(1 for t in document["faces"]["track_list"] if t["main"]) == 1
    _healthy(cli.db_path)


def test_a_two_hour_file_is_sampled_without_decoding_it_all(cli, seeded: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Evidence without a clock: every frame the decoder hands over is counted (GOP of 10 frames)."""
    path = _make(hostile.two_hours, seeded)
    decoded = []
    original = video.VideoReader._indexed_frames

    def counting(self, *args):
        for item in original(self, *args):
            decoded.append(item[0])
            yield item

    monkeypatch.setattr(video.VideoReader, "_indexed_frames", counting)
    out = seeded / "result.json"
    result = cli("analyze", str(path), "--json", str(out), *ANALYZE)
    assert result.code == 0, result.stderr
    document = json.loads(out.read_text())
    assert document["video"]["frames"] == 7200 and document["video"]["duration_s"] >= 7199
    assert document["faces"]["frames_sampled"] == 4
    assert 4 <= len(decoded) <= 4 * 10, f"{len(decoded)} frames decoded for 4 samples of 7200"
    assert max(decoded) > 5000  # the samples really spread over the two hours
    _healthy(cli.db_path)


# --- a file that disappears during the analysis (service layer: the documented AnalysisError) ------------

_drive = run_to_end


def test_a_file_removed_before_the_hash_check_is_not_analysed(db: Database, tmp_path: Path) -> None:
    clip = hostile.h264(tmp_path, "vanishing.mp4")
    intake = ingest_video(db, "Case V", clip, "alice")
    before = counts(db.path)
    with pytest.raises(AnalysisError, match="cannot be read"):
        _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=("meso4_df",), frames=4), "alice"),
               on_event=lambda _e: clip.unlink(missing_ok=True))
    assert counts(db.path) == before  # no analysis row was opened
    _healthy(db.path)


def test_a_file_removed_between_hash_check_and_decoding_is_analysed_from_the_verified_descriptor(
        db: Database, tmp_path: Path, monkeypatch) -> None:
    """The evidence is opened once, hashed and decoded through that descriptor: removing the path after the check
    takes nothing away from what was verified, and the analysis finishes on exactly those bytes."""
    from dfdesk.detectors import scoring  # the engine the analysis decodes through

    clip = hostile.h264(tmp_path, "vanishing.mp4")
    intake = ingest_video(db, "Case V", clip, "alice")
    real_extract = scoring.extract_faces

    def vanish_then_extract(source, *args, **kwargs):
        os.unlink(source.path)
        return real_extract(source, *args, **kwargs)

    monkeypatch.setattr(scoring, "extract_faces", vanish_then_extract)
    _drive(run_analysis(db, intake.evidence_id, AnalysisRequest(models=("meso4_df",), frames=4), "alice"))
    from tests.reliability.conftest import statuses

    assert not clip.exists() and list(statuses(db.path).values()) == ["done"]
    _healthy(db.path)


def test_a_file_removed_while_being_decoded_is_still_read_to_the_end(cli, seeded: Path, monkeypatch) -> None:
    """Once open, an unlinked file stays readable (POSIX): the analysis completes on what was verified."""
    clip = hostile.h264(seeded, "vanishing.mp4")
    original = video.VideoReader._indexed_frames

    def unlink_on_first_frame(self, *args):
        for item in original(self, *args):
            Path(self.path).unlink(missing_ok=True)
            yield item

    monkeypatch.setattr(video.VideoReader, "_indexed_frames", unlink_on_first_frame)
    result = cli("analyze", str(clip), *ANALYZE)
    assert result.code == 0, result.stderr
    assert not clip.exists()
    _healthy(cli.db_path)


# --- the same through a separate process: the user's path, end to end ----------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,code", [("random bytes named .mp4", 2), ("WebM named .mp4", 0)])
def test_the_cli_process_exits_cleanly(dfdesk, tmp_path: Path, name: str, code: int) -> None:
    generator = REFUSED[name][0] if name in REFUSED else ANALYSED[name][0]
    folder = tmp_path / "corpus"
    folder.mkdir()
    path = _make(generator, folder)
    result = dfdesk("analyze", str(path), "--json", str(tmp_path / "out.json"), *ANALYZE)
    assert result.code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == (1 if code else 0)
    _healthy(dfdesk.db_path)
