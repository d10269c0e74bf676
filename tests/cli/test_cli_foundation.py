from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from dfdesk import __version__
from tests.cli import bad_inputs
from tests.cli.conftest import dump, integrity


def test_version(dfdesk) -> None:
    result = dfdesk("--version", db=None)
    assert result.code == 0 and result.stdout.strip() == f"dfdesk {__version__}"


def test_case_new_list_show_and_ingest(dfdesk, clip_dir: Path) -> None:
    assert dfdesk("case", "new", "Müller ✓ 案件", "--number", "2026-0042").code == 0
    assert dfdesk("case", "new", "Müller ✓ 案件").code == 2  # the name is taken
    ingested = dfdesk("ingest", str(clip_dir / "face.mp4"), str(clip_dir / "portrait.mp4"), "--case", "Müller ✓ 案件")
    assert ingested.code == 0, ingested.stderr
    assert ingested.stdout.count("ingested") == 2
    listed = dfdesk("case", "list")
    assert "Müller ✓ 案件\t2026-0042\t2 video(s)" in listed.stdout
    shown = json.loads(dfdesk("case", "show", "Müller ✓ 案件", "--json").stdout)
    assert [(e["file"], e["width"], e["height"]) for e in shown["evidence"]] == [("face.mp4", 320, 240),
                                                                                 ("portrait.mp4", 240, 320)]
    assert dfdesk("audit", "verify").code == 0


def test_non_ascii_path_with_spaces_is_ingested(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "Beweismittel ü 证据"
    folder.mkdir()
    clip = shutil.copy(clip_dir / "face.mp4", folder / "clip with spaces ✓.mp4")
    result = dfdesk("ingest", str(clip), "--case", "A")
    assert result.code == 0, result.stderr
    assert "clip with spaces ✓.mp4" in result.stdout


def _bad_corpus(folder: Path, clip: Path) -> dict[str, Path]:
    corpus = {
        "zero-byte": bad_inputs.zero_byte(folder),
        "random bytes": bad_inputs.random_bytes(folder),
        "text file": bad_inputs.text_file(folder),
        "audio only": bad_inputs.audio_only(folder),
        "image": bad_inputs.image(folder),
        "directory": bad_inputs.directory(folder),
        "missing": bad_inputs.missing(folder),
        "missing non-ascii": folder / "verloren ü 丢失.mp4",
    }
    for keep in (0.05, 0.3, 0.7):
        corpus[f"truncated {keep}"] = bad_inputs.truncated(folder, clip, keep)
    return corpus


def test_bad_input_gives_exit_2_one_line_and_an_unchanged_database(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    assert dfdesk("ingest", str(clip_dir / "face.mp4"), "--case", "A").code == 0
    before = dump(dfdesk.db_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name, path in _bad_corpus(bad, clip_dir / "face.mp4").items():
        result = dfdesk("ingest", str(path), "--case", "A")
        assert result.code == 2, f"{name}: exit {result.code}, stderr {result.stderr!r}"
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dfdesk: error: "), f"{name}: {result.stderr!r}"
        assert path.name in lines[0], f"{name}: the message names the file"
        assert "Traceback" not in result.stderr
    assert dump(dfdesk.db_path) == before
    assert integrity(dfdesk.db_path) == "ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file whatever its mode; run as a normal user")
def test_unreadable_file_gives_exit_2(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    before = dump(dfdesk.db_path) if dfdesk.db_path.exists() else None
    secret = Path(shutil.copy(clip_dir / "face.mp4", tmp_path / "secret.mp4"))
    secret.chmod(0o000)
    result = dfdesk("ingest", str(secret), "--case", "A")
    assert result.code == 2, result.stderr
    assert "permission denied" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert before is None or dump(dfdesk.db_path) == before


def test_audit_verify_reports_tampering(dfdesk, clip_dir: Path) -> None:
    import sqlite3

    assert dfdesk("ingest", str(clip_dir / "face.mp4"), "--case", "A").code == 0
    connection = sqlite3.connect(dfdesk.db_path)
    connection.execute("DROP TRIGGER audit_events_no_update")
    connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE id = 1")
    connection.commit()
    connection.close()
    result = dfdesk("audit", "verify")
    assert result.code == 1
    assert "audit event 1: content does not match its hash" in result.stdout
    assert "altered" in result.stderr
