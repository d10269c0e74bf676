"""Which files the case database opens, and how: literal names, other programs' files, damaged files."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from dfdesk.services import audit, cases
from dfdesk.store.database import Database, DatabaseError
from dfdesk.store.file_check import APPLICATION_ID, FILE_FORMAT

AWKWARD_NAMES = ["cases?mode=memory.sqlite", "cases#fragment.sqlite", "cases%3Fx%2F.sqlite", "file:cases.sqlite",
                 "cases?uri=true&mode=ro.sqlite"]


def header_marks(path: Path) -> tuple[int, int]:
    connection = sqlite3.connect(path)
    try:
        return (connection.execute("PRAGMA application_id").fetchone()[0],
                connection.execute("PRAGMA user_version").fetchone()[0])
    finally:
        connection.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def case_names(db: Database) -> list[str]:
    with db.unit_of_work() as session:
        return [c.name for c in cases.list_cases(session)]


def make_foreign(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")  # the harder kind: reading it may create -wal/-shm files
    connection.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    connection.execute("INSERT INTO contacts VALUES ('Ada', '555-0100')")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_a_name_with_url_characters_names_that_very_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         name: str) -> None:
    folder = tmp_path / "dbs"
    folder.mkdir()
    monkeypatch.chdir(folder)  # relative too, as a user types it
    db = Database(name)
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    db.close()
    assert sorted(p.name for p in folder.iterdir()) == [name]  # no other file written, no -wal left behind
    reopened = Database(folder / name)
    assert case_names(reopened) == ["Case A"]
    reopened.close()


def test_a_new_database_is_marked_as_dfdesks(db: Database) -> None:
    assert header_marks(db.path) == (APPLICATION_ID, FILE_FORMAT)


def test_another_programs_database_is_refused_untouched(tmp_path: Path) -> None:
    foreign = make_foreign(tmp_path / "contacts.sqlite")
    before = sha256(foreign)
    with pytest.raises(DatabaseError, match="is not a dfdesk case database") as refused:
        Database(foreign)
    assert "\n" not in str(refused.value) and str(foreign) in str(refused.value)
    assert sha256(foreign) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.sqlite"]  # no -wal or -shm created either


def test_a_file_claimed_by_another_application_id_is_refused_even_without_tables(tmp_path: Path) -> None:
    claimed = tmp_path / "other.sqlite"
    connection = sqlite3.connect(claimed)
    connection.execute("PRAGMA application_id = 1196444487")  # GeoPackage's "GPKG"
    connection.commit()
    connection.close()
    before = sha256(claimed)
    with pytest.raises(DatabaseError, match="application id 0x47504b47"):
        Database(claimed)
    assert sha256(claimed) == before


def test_a_dfdesk_database_from_before_the_application_id_opens_and_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "older.sqlite"
    db = Database(path)
    with db.unit_of_work() as session:
        cases.create_case(session, "Case A", "alice")
    db.close()
    connection = sqlite3.connect(path)  # as dfdesk wrote it until now: alembic at head, no marks
    connection.execute("PRAGMA application_id = 0")
    connection.execute("PRAGMA user_version = 0")
    connection.commit()
    connection.close()
    assert header_marks(path) == (0, 0)
    reopened = Database(path)
    assert case_names(reopened) == ["Case A"]
    with reopened.unit_of_work() as session:
        assert audit.verify(session) == []
    reopened.close()
    assert header_marks(path) == (APPLICATION_ID, FILE_FORMAT)


def _overwrite_index_page(path: Path, index: str) -> None:
    connection = sqlite3.connect(path)
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    with path.open("r+b") as stream:
        stream.seek((root - 1) * page_size)
        stream.write(bytes([0xA5]) * page_size)


def test_a_damaged_database_is_refused_at_open_in_one_line(db: Database, tmp_path: Path) -> None:
    with db.unit_of_work() as session:
        for number in range(40):
            cases.create_case(session, f"Case {number}", "alice")
    db.close()  # checkpoints the WAL: every page is in the main file
    damaged = tmp_path / "damaged.sqlite"
    shutil.copyfile(db.path, damaged)
    _overwrite_index_page(damaged, "sqlite_autoindex_cases_1")
    before = sha256(damaged)
    with pytest.raises(DatabaseError, match="is damaged .SQLite quick_check: .*Page") as refused:
        Database(damaged)
    assert "\n" not in str(refused.value)
    assert sha256(damaged) == before
    original = Database(db.path)
    assert len(case_names(original)) == 40  # the original is untouched
    original.close()


@pytest.mark.parametrize("where", ["inside a file", "is a folder", "is a pipe"])
def test_a_path_that_cannot_be_a_database_file_is_refused_in_one_line(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "plain.txt"
    blocker.write_text("not a folder")
    path = {"inside a file": blocker / "cases.sqlite", "is a folder": tmp_path, "is a pipe": tmp_path / "fifo"}[where]
    if where == "is a pipe":
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    with pytest.raises(DatabaseError) as refused:
        Database(path)
    assert "\n" not in str(refused.value)
    assert blocker.read_text() == "not a folder"
