"""bench/reliability.py's own parts: it covers at least 50 hostile kinds of every class of issue 21, its verdict on
an attempt follows the contract (a wrong outcome is a silent misread only when the command claimed success), and
the hostile database and report files it makes are what their names say (real SQLite, a real dfdesk database)."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from bench.reliability_kinds import BYTES, EVIDENCE, FILES, MISREAD, ONE_LINE, all_kinds
from bench.reliability_workbench import TRACEBACK, Attempt
from dfdesk.store.database import Database
from tests.fixtures import hostile


def test_the_bench_covers_at_least_50_distinct_kinds_of_every_class() -> None:
    kinds = all_kinds()
    names = [kind.name for kind in kinds]
    assert len(set(names)) == len(names) >= 50
    assert {kind.klass for kind in kinds} == {ONE_LINE, MISREAD, EVIDENCE, BYTES, FILES}


def test_the_whole_edge_corpus_can_be_run() -> None:
    assert len(all_kinds("all")) > len(all_kinds("selection")) + 100


def test_a_wrong_outcome_is_silent_only_when_the_command_said_it_succeeded() -> None:
    assert Attempt(0, "analysis 1: done", "", 1.0).judge(False).misread
    assert not Attempt(2, "", "dfdesk: error: refused\n", 1.0).judge(False).misread
    assert not Attempt(0, "", "", 1.0).judge(True).misread
    assert Attempt(2, "", "dfdesk: error: refused\n", 1.0).judge(False, misread=True).misread  # bytes changed


def test_a_refusal_is_one_error_line_with_its_exit_code_and_a_traceback_is_seen() -> None:
    assert Attempt(2, "", "dfdesk: error: no such case\n", 0.1).refused_in_one_line(2)
    assert not Attempt(1, "", "dfdesk: error: no such case\n", 0.1).refused_in_one_line(2)
    assert not Attempt(2, "", "warning: x\ndfdesk: error: no such case\n", 0.1).refused_in_one_line(2)
    assert not Attempt(1, "", "dfdesk: error: unexpected KeyError: 'x' (please report this)\n", 0.1
                       ).refused_in_one_line(1)
    assert Attempt(1, "", f"{TRACEBACK}:\n  File 'x'\nKeyError\n", 0.1).traceback
    assert Attempt(None, "", "", 0.1, escaped="KeyError: 'x'").traceback


def _quick_check(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        connection.close()


def test_the_damaged_database_fails_sqlites_quick_check_and_its_source_does_not(tmp_path: Path) -> None:
    source = tmp_path / "cases.sqlite"
    Database(source).close()
    damaged = hostile.damaged_database(source, tmp_path / "damaged.sqlite")
    assert _quick_check(source) == "ok"
    assert _quick_check(damaged) != "ok"
    assert len(damaged.read_bytes()) == len(source.read_bytes())


def test_the_foreign_database_is_another_programs_sqlite_file(tmp_path: Path) -> None:
    path = hostile.foreign_sqlite(tmp_path)
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA application_id").fetchone()[0] == 0
        assert connection.execute("SELECT count(*) FROM contacts").fetchone()[0] == 2
    finally:
        connection.close()


def test_the_edited_pdf_differs_from_its_source_in_exactly_one_byte(tmp_path: Path) -> None:
    source = tmp_path / "r.pdf"
    source.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 4)
    edited = hostile.edited_pdf(source, tmp_path / "edited.pdf")
    pairs = list(zip(source.read_bytes(), edited.read_bytes(), strict=True))
    assert sum(a != b for a, b in pairs) == 1
