"""Engine and units of work for the case database (SQLite: WAL, foreign keys, busy timeout).

Every write transaction starts with BEGIN IMMEDIATE, so two processes never interleave
a read-then-write (the audit hash chain depends on it).  A fresh Session per unit of work;
sessions are never shared across threads.

Opening a file first checks it (:mod:`dfdesk.store.file_check`): another program's SQLite file and a damaged
one are refused before anything is written; a file on read-only media is opened read-only.  The file is named
to SQLite literally (``?``, ``#`` and ``%`` are characters of the name, never a URL's query or escapes).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dfdesk.store import file_check
from dfdesk.store.file_check import DatabaseError

BUSY_TIMEOUT_MS = 30_000
MIGRATIONS = Path(__file__).with_name("migrations")
WRITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL")
SESSION_PRAGMAS = ("foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}")


def make_engine(path: Path, read_only: bool = False) -> Engine:
    """An engine on ``path`` (absolute), connected by its literal name; read-only engines never write."""
    url = URL.create("sqlite+pysqlite", database=str(path))  # keeps url.database literal (audit heads use it)
    engine = create_engine(url, creator=lambda: file_check.connect(path, read_only, BUSY_TIMEOUT_MS / 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        for pragma in SESSION_PRAGMAS + (() if read_only else WRITE_PRAGMAS):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, stamp: bool = False) -> None:
    """Bring the schema to the newest revision (the app does this on every start); ``stamp`` marks the file
    as dfdesk's in the same transaction."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if stamp:
            file_check.stamp(connection)


def schema_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class Database:
    """One case database file.  Open it once per process; use ``unit_of_work`` per task.

    ``read_only`` is True when the file or its folder cannot be written (read-only media): everything can be
    read, and a unit of work that writes ends with :class:`DatabaseError`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).absolute()
        facts = file_check.examine(self.path)  # refuses other programs' files before anything is written
        self.read_only = facts.read_only
        self.engine = make_engine(self.path, self.read_only)
        try:
            self._prepare(facts.needs_stamp)
        except DatabaseError:
            self.engine.dispose()
            raise
        except Exception as exc:  # an unusable file: say so in one line
            self.engine.dispose()
            reason = f"{exc.__class__.__name__}: {exc}"
            raise DatabaseError(f"{self.path}: cannot open the case database ({reason})") from exc
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _prepare(self, needs_stamp: bool) -> None:
        """Quick-check the file, then bring its schema to the newest revision and mark it (when writable)."""
        raw = self.engine.raw_connection()
        try:
            file_check.quick_check(raw.driver_connection, self.path)
        finally:
            raw.close()
        outdated = schema_revision(self.engine) != head_revision()
        if self.read_only and outdated:
            raise DatabaseError(f"{self.path} is read-only and its schema is older than this dfdesk's: open a "
                                "writable copy once to upgrade it")
        if not self.read_only and (outdated or needs_stamp):
            migrate(self.engine, stamp=needs_stamp)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session whose changes are committed together, or not at all."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as exc:
            session.rollback()
            if getattr(exc.orig, "sqlite_errorname", "").startswith("SQLITE_READONLY"):
                raise DatabaseError(f"{self.path} cannot be written (read-only file, folder or media): nothing "
                                    "was changed") from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def integrity_check(self) -> str:
        with self.engine.connect() as connection:
            return connection.execute(text("PRAGMA integrity_check")).scalar_one()

    def close(self) -> None:
        self.engine.dispose()
