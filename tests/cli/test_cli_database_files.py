"""`--db` files through the real command line: refused ones in one line, read-only ones still read and verified."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Result


def _one_line_refusal(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("dfdesk: error: "), result
    return lines[0]


def test_another_programs_database_gives_exit_2_and_stays_as_it_was(dfdesk, tmp_path: Path) -> None:
    foreign = tmp_path / "browser history.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE visits (url TEXT)")
    connection.execute("INSERT INTO visits VALUES ('https://example.org')")
    connection.commit()
    connection.close()
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    line = _one_line_refusal(dfdesk("case", "new", "Case A", db=foreign))
    assert "is not a dfdesk case database" in line
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before


def test_a_database_path_inside_a_regular_file_gives_exit_2(dfdesk, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    line = _one_line_refusal(dfdesk("case", "list", db=tmp_path / "notes.txt" / "cases.sqlite"))
    assert "notes.txt" in line


def test_a_question_mark_in_db_names_that_file(dfdesk, tmp_path: Path) -> None:
    db = tmp_path / "lab?mode=memory.sqlite"
    assert dfdesk("case", "new", "Case A", db=db).code == 0
    assert db.is_file() and not (tmp_path / "lab").exists()
    assert "Case A" in dfdesk("case", "list", db=db).stdout


def _unprivileged() -> list[str]:
    """A prefix under which chmod a-w binds: none for a normal user; for root, a user namespace without a mapping
    (root's own files are then judged by their mode bits, as they are for anyone else)."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(["unshare", "--user", "true"], capture_output=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("running as root without `unshare --user`: write-protection cannot be made to bind here")
    return ["unshare", "--user"]


def _run_read_only(prefix: list[str], folder: Path, *args: str) -> Result:
    done = subprocess.run([*prefix, sys.executable, "-m", "dfdesk", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8"}, cwd=folder.parent, timeout=300)
    return Result(done.returncode, done.stdout, done.stderr)


def test_a_database_on_read_only_media_can_be_listed_and_verified(dfdesk, clip_dir: Path, tmp_path: Path) -> None:
    prefix = _unprivileged()
    assert dfdesk("ingest", str(clip_dir / "face.mp4"), "--case", "Seized phone").code == 0
    media = tmp_path / "media"
    media.mkdir()
    copy = media / "cases.sqlite"
    shutil.copyfile(dfdesk.db_path, copy)  # the closed database: one file, no -wal
    copy.chmod(0o444)
    media.chmod(0o555)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    try:
        listed = _run_read_only(prefix, media, "case", "list", "--db", str(copy))
        shown = _run_read_only(prefix, media, "case", "show", "Seized phone", "--db", str(copy))
        verified = _run_read_only(prefix, media, "audit", "verify", "--db", str(copy))
        written = _run_read_only(prefix, media, "case", "new", "Case B", "--db", str(copy))
    finally:
        media.chmod(0o755)
    assert listed.code == 0 and "Seized phone" in listed.stdout, listed
    assert shown.code == 0 and "face.mp4" in shown.stdout, shown
    assert verified.code == 0 and "audit log intact" in verified.stdout, verified
    assert "cannot be written" in _one_line_refusal(written)
    assert sorted(p.name for p in media.iterdir()) == ["cases.sqlite"]
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


def test_a_command_run_in_process_leaves_every_change_in_the_file_itself(tmp_path: Path, monkeypatch) -> None:
    """run_cli closes the databases it opened, so SQLite folds the write-ahead log into the file: a plain copy
    of the file made right after holds the new case (it did not while the engine waited for the collector)."""
    import gc

    from dfdesk.cli.main import run_cli

    monkeypatch.setenv("DFDESK_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "cases.sqlite"
    gc.disable()  # no collection may close the engine in the command's place
    try:
        assert run_cli(["case", "new", "Held", "--db", str(db)]) == 0
        assert not db.with_name("cases.sqlite-wal").exists()
        copy = tmp_path / "copy.sqlite"
        shutil.copyfile(db, copy)
    finally:
        gc.enable()
    connection = sqlite3.connect(copy)
    try:
        assert connection.execute("SELECT name FROM cases").fetchall() == [("Held",)]
    finally:
        connection.close()
