"""Warnings the services log reach the command line as prefixed lines, once each, and do not change the exit."""
from __future__ import annotations

import logging

from dfdesk import paths
from dfdesk.cli.common import logged_warnings_as_lines


def test_a_skipped_model_folder_is_one_prefixed_warning_line(dfdesk) -> None:
    broken = paths.user_models_dir() / "broken_card"
    broken.mkdir()
    (broken / "card.toml").write_text("name = [unclosed\n", encoding="utf-8")

    listing = dfdesk("models", "list", db=None)

    assert listing.code == 0, listing.stderr
    lines = [line for line in listing.stderr.splitlines() if "broken_card" in line]
    assert len(lines) == 1, listing.stderr
    assert lines[0].startswith("dfdesk: warning: model folder ") and "skipped" in lines[0]


def test_a_warning_repeated_during_a_command_is_written_once(capsys) -> None:
    log = logging.getLogger("dfdesk.services.audit_heads")
    with logged_warnings_as_lines():
        for _ in range(3):
            log.warning("could not record the audit head of %s: %s", "cases.sqlite", "disk full")
        log.warning("another warning")
    log.warning("after the command")  # no longer the command line's: not prefixed by it

    written = capsys.readouterr().err.splitlines()
    assert written.count("dfdesk: warning: could not record the audit head of cases.sqlite: disk full") == 1
    assert "dfdesk: warning: another warning" in written
    assert not any("after the command" in line and line.startswith("dfdesk:") for line in written)


def test_a_reader_that_stops_early_gets_no_error_line(tmp_path) -> None:
    """`dfdesk models list | head -1`: the pipe closes before dfdesk writes; it ends quietly, exit 1, no line."""
    import os
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "dfdesk", "models", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, "PYTHONIOENCODING": "utf-8"}, cwd=tmp_path)
    process.stdout.close()  # the reader is gone before the first line (start-up takes far longer than this)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 1
    assert stderr == ""
