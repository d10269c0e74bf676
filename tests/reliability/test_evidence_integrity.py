"""Evidence is only ever read: a full analysis and report leave it bit-for-bit and mtime unchanged, no open
of it asks for write access (strace on the real process; Python audit hooks in-process), and the SHA-256
is checked again before every report."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import hostile
from tests.reliability.conftest import ANALYZE, audit_problems

WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")
_watched: set[str] = set()
_write_opens: list[str] = []


def _hook(event: str, args) -> None:
    if event == "open" and _watched and args and str(args[0]) in _watched:
        mode, flags = args[1], args[2] if len(args) > 2 else 0
        if (mode and any(c in str(mode) for c in "wax+")) or (flags and flags & (os.O_WRONLY | os.O_RDWR)):
            _write_opens.append(f"{args[0]} mode={mode} flags={flags}")


sys.addaudithook(_hook)  # cannot be removed; it only watches paths a test puts in _watched


def _state(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), info.st_mtime_ns, info.st_mode


def test_analysis_and_report_never_open_the_evidence_for_writing(cli, tmp_path: Path) -> None:
    evidence = hostile.read_only(tmp_path)
    before = _state(evidence)
    _watched.update({str(evidence), str(evidence.resolve())})
    _write_opens.clear()
    try:
        result = cli("analyze", str(evidence), *ANALYZE, "--report", str(tmp_path / "report.pdf"))
    finally:
        _watched.clear()
    assert result.code == 0, result.stderr
    assert (tmp_path / "report.pdf").is_file()
    assert _write_opens == []
    assert _state(evidence) == before and oct(before[2] & 0o777) == "0o444"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (apt-get install strace)")
def test_no_process_opens_the_evidence_with_write_flags(tmp_path: Path) -> None:
    """strace sees the opens made inside FFmpeg too, which Python's audit hooks cannot."""
    evidence = hostile.read_only(tmp_path)
    before = _state(evidence)
    trace = tmp_path / "trace.txt"
    command = ["strace", "-f", "-qq", "-e", "trace=openat,open,creat,truncate", "-o", str(trace),
               sys.executable, "-m", "dfdesk", "analyze", str(evidence), *ANALYZE,
               "--report", str(tmp_path / "report.pdf"), "--db", str(tmp_path / "cases.sqlite")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "PTRACE" in done.stderr.upper():
        pytest.skip(f"strace cannot trace here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    opens = [line for line in trace.read_text(errors="replace").splitlines() if evidence.name in line]
    assert opens, "the trace shows the evidence being read"
    assert all("O_RDONLY" in line for line in opens)
    assert [line for line in opens if re.search("|".join(WRITE_FLAGS), line)] == []
    assert _state(evidence) == before


def test_evidence_altered_between_analysis_and_report_is_caught_by_the_report(cli, tmp_path: Path) -> None:
    evidence = hostile.h264(tmp_path, "evidence.mp4")
    assert cli("analyze", str(evidence), *ANALYZE).code == 0
    with evidence.open("ab") as handle:  # someone edits the file after the analysis
        handle.write(b"\x00altered")
    result = cli("report", "1", "--out", str(tmp_path / "report.pdf"))
    assert result.code == 1
    assert "SHA-256" in result.stderr and len(result.error_lines) == 1
    import sqlite3

    connection = sqlite3.connect(cli.db_path)
    actions = [a for (a,) in connection.execute("SELECT action FROM audit_events ORDER BY id")]
    ok = connection.execute("SELECT evidence_hash_ok FROM reports").fetchall()
    connection.close()
    assert actions[-2:] == ["evidence.hash_mismatch", "report.export"] and ok == [(0,)]
    assert audit_problems(cli.db_path) == []
