"""The places and the CLI runner that bench/reliability.py's hostile kinds use.

A :class:`Workbench` holds a template case database (case "Existing", id 1, holding the face clip as evidence 1
and its finished analysis 1), hands each kind a fresh copy of it, and runs the real command line: in this process
through :func:`dfdesk.cli.main.run_cli` (with environment variables, patched seams or a working folder set only for
that call), or as ``python -m dfdesk`` in a subprocess.  Every run is an :class:`Attempt`: exit code, output, any
exception that escaped ``run_cli``, seconds, and the kind's own judgement of the outcome.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

TRACEBACK = "Traceback (most recent call last)"
LAST_RESORT = "dfdesk: error: unexpected"  # run_cli's catch-all: one line, but an error nobody anticipated
ANALYZE = ("--models", "meso4_df", "--frames", "4", "--device", "cpu")
FRAMES = 4  # as in ANALYZE


@dataclass
class Attempt:
    """One run of the command line, and what the kind concluded about it."""

    code: int | None  # None: an exception escaped run_cli
    stdout: str
    stderr: str
    seconds: float
    escaped: str = ""  # the exception that escaped run_cli, if any
    right: bool = True  # the outcome is the one the kind expects
    misread: bool = False  # the command did something other than asked without saying so
    db: Path | None = None  # the case database to check afterwards (None: no dfdesk database was in play)
    note: str = ""  # what was wrong, for the table
    outcome: str = ""  # the kind's own summary of a success (default: the first line of output)

    @property
    def traceback(self) -> bool:
        return bool(self.escaped) or TRACEBACK in self.stderr

    @property
    def last_resort(self) -> bool:
        return LAST_RESORT in self.stderr

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def judge(self, right: bool, misread: bool | None = None, note: str = "") -> Attempt:
        """Record the kind's check; by default a wrong outcome is a silent misread when the command said success."""
        self.right = right
        self.misread = (not right and self.code == 0) if misread is None else misread
        self.note = "" if right else note
        return self

    def refused_in_one_line(self, code: int = 2) -> bool:
        """The contract for a refusal: exit ``code`` and one ``dfdesk: error:`` line, not the last resort."""
        lines = self.error_lines()
        return (self.code == code and len(lines) == 1 and lines[0].startswith("dfdesk: error: ")
                and not self.last_resort)


@dataclass
class Workbench:
    """Scratch folders, a template database and the command line."""

    root: Path
    clip: Path  # the face clip (evidence 1 of the template)
    template: Path = field(init=False)
    _count: int = field(default=0, init=False)

    def build_template(self) -> None:
        """Case "Existing" (id 1) holding the face clip (evidence 1) and its finished analysis (1)."""
        self.template = self.root / "template" / "cases.sqlite"
        self.template.parent.mkdir()
        db = ("--db", str(self.template))
        for argv in (("case", "new", "Existing"), ("analyze", str(self.clip), "--case", "Existing", *ANALYZE)):
            attempt = self.cli(*argv, *db)
            if attempt.code != 0:
                raise RuntimeError(f"building the template: {argv[0]} exit {attempt.code}: {attempt.stderr[-500:]}")
        checkpoint(self.template)

    def folder(self, name: str) -> Path:
        """A new empty folder for one kind."""
        self._count += 1
        path = self.root / f"{self._count:03d} {name}"
        path.mkdir()
        return path

    def fresh_db(self, folder: Path) -> Path:
        """A copy of the template in ``folder``."""
        return Path(shutil.copyfile(self.template, folder / "cases.sqlite"))

    def cli(self, *argv: str, env: dict[str, str] | None = None, patches: tuple = (),
            cwd: Path | None = None) -> Attempt:
        """``run_cli(argv)`` in this process with stdout and stderr captured; ``patches``: (target, value) pairs for
        :meth:`pytest.MonkeyPatch.setattr`, undone afterwards with ``env`` and ``cwd``."""
        from dfdesk.cli.main import run_cli

        out, err, escaped = io.StringIO(), io.StringIO(), ""
        started = time.perf_counter()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            for target, value in patches:
                patch.setattr(target, value)
            if cwd is not None:
                patch.chdir(cwd)
            try:
                code = run_cli(list(argv))
            except (Exception, SystemExit) as exc:  # noqa: BLE001  (what escapes run_cli is what we count)
                code, escaped = None, f"{type(exc).__name__}: {exc}"[:300]
        return Attempt(code, out.getvalue(), err.getvalue(), time.perf_counter() - started, escaped)

    def subprocess_cli(self, *argv: str, env: dict[str, str] | None = None) -> Attempt:
        """``python -m dfdesk argv`` in a child process (for what only a fresh interpreter shows: its environment
        read at start, its own stderr)."""
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "dfdesk", *argv], capture_output=True, text=True,
                              env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}, cwd=self.root,
                              timeout=900)
        return Attempt(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)


def checkpoint(db: Path) -> None:
    """Fold the write-ahead log into the main file, so that copying the main file copies every row."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def query(db: Path, sql: str, *parameters) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, parameters).fetchall()
    finally:
        connection.close()


def integrity(db: Path) -> str:
    return query(db, "PRAGMA integrity_check")[0][0]


def audit_verify_code(workbench: Workbench, db: Path) -> int | None:
    """Exit code of ``dfdesk audit verify --db DB`` (the real command)."""
    return workbench.cli("audit", "verify", "--db", str(db)).code
