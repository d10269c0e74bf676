"""Every value a user can type at the edge of every command, through the real CLI (``run_cli``, in this process),
under a hook that fails the case on any traceback or escaping exception.

The corpus is generated: out-of-range, negative, zero, non-ASCII-digit and non-numeric integers for every integer
option; output files in missing folders, onto folders and below regular files; ``--db`` and ``DFDESK_DATA_DIR``
naming files or folders that cannot hold a database; text over its limit or with control characters.  Each case
must end with exit 2 and one ``dfdesk: error:`` line, leave the database byte-for-byte as it was (as an SQL dump),
and leave ``PRAGMA integrity_check`` and ``dfdesk audit verify`` passing.
"""
from __future__ import annotations

import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dfdesk.cli.main import run_cli
from tests.cli.conftest import dump, integrity

TRACEBACK = "Traceback (most recent call last)"
BAD_INTEGERS = {"2**70": str(2**70), "-1": "-1", "0": "0", "Arabic-Indic 12": "١٢", "fullwidth 7": "７",
                "1e3": "1e3", "empty": "", "spaced": " 7", "underscored": "1_000", "hex": "0x10", "word": "seven"}
INTEGER_OPTIONS = {  # name: argv with {} where the value goes (0 is a valid seed)
    "analyze --seed": ["analyze", "{video}", "--seed", "{}"],
    "analyze --frames": ["analyze", "{video}", "--frames", "{}"],
    "analyze --case-id": ["analyze", "{video}", "--case-id", "{}"],
    "resume ID": ["resume", "{}"],
    "report ID": ["report", "{}", "--out", "{out}/r.pdf"],
    "batch --workers": ["batch", "{video}", "--case", "B", "--workers", "{}"],
    "batch --case-id": ["batch", "{video}", "--case-id", "{}"],
    "ingest --case-id": ["ingest", "{video}", "--case-id", "{}"],
    "case show --case-id": ["case", "show", "--case-id", "{}"],
}
OUTPUT_OPTIONS = {
    "analyze --json": ["analyze", "{video}", "--json", "{}"],
    "analyze --report": ["analyze", "{video}", "--report", "{}"],
    "resume --json": ["resume", "1", "--json", "{}"],
    "batch --json": ["batch", "{video}", "--case", "B", "--json", "{}"],
    "batch --csv": ["batch", "{video}", "--case", "B", "--csv", "{}"],
    "report --out": ["report", "1", "--out", "{}"],
    "models export-onnx --out": ["models", "export-onnx", "meso4_df", "--out", "{}"],
    "sample OUT": ["sample", "{}"],
}
BAD_OUTPUTS = {"missing folder": "{out}/no such folder/x.out", "a folder": "{out}", "below a file": "{file}/x.out"}
BAD_DATABASES = {"below a file": "{file}/cases.sqlite", "a folder": "{out}", "empty name": ""}
DATABASE_COMMANDS = {"case list": ["case", "list"], "case new": ["case", "new", "C"],
                     "ingest": ["ingest", "{video}", "--case", "C"], "audit verify": ["audit", "verify"]}
LONG = "x" * 100_000
TEXT_VALUES = {  # name: argv (over a limit, or a control character in a one-line field)
    "case name 100k": ["case", "new", LONG],
    "case name 201": ["case", "new", "n" * 201],
    "case name with newline": ["case", "new", "two\nlines"],
    "case name with escape": ["case", "new", "bell\x1b[2J"],
    "case name bidi override": ["case", "new", "abc\u202egpj.exe"],
    "case name blank": ["case", "new", "   "],
    "case number 100k": ["case", "new", "N", "--number", LONG],
    "case number 65": ["case", "new", "N", "--number", "9" * 65],
    "description 100k": ["case", "new", "N", "--description", LONG],
    "description with NUL": ["case", "new", "N", "--description", "a\x00b"],
    "analyze --case 100k": ["analyze", "{video}", "--case", LONG],
    "ingest --case 100k": ["ingest", "{video}", "--case", LONG],
    "batch --case 100k": ["batch", "{video}", "--case", LONG],
    "report --examiner 100k": ["report", "1", "--out", "{out}/e.pdf", "--examiner", LONG],
    "report --examiner with newline": ["report", "1", "--out", "{out}/e.pdf", "--examiner", "a\nb"],
    "profile add name 100k": ["profile", "add", LONG, "--role", "admin"],
    "--case and --case-id together": ["ingest", "{video}", "--case", "A", "--case-id", "1"],
    "case show without a case": ["case", "show"],
    "case show name and id": ["case", "show", "Existing", "--case-id", "1"],
    "undecodable byte in case name": ["case", "new", "caf\udce9"],
}
ENVIRONMENTS = {  # name: (environment, argv)
    "DFDESK_ANALYST 100k": ({"DFDESK_ANALYST": LONG}, ["case", "new", "E"]),
    "DFDESK_ANALYST with newline": ({"DFDESK_ANALYST": "eve\nadmin"}, ["case", "new", "E"]),
    "DFDESK_PROFILE 100k": ({"DFDESK_PROFILE": LONG}, ["case", "list"]),
    "DFDESK_DATA_DIR a file, case list": ({"DFDESK_DATA_DIR": "{file}"}, ["case", "list"]),
    "DFDESK_DATA_DIR a file, models list": ({"DFDESK_DATA_DIR": "{file}"}, ["models", "list"]),
    "DFDESK_DATA_DIR a file, analyze": ({"DFDESK_DATA_DIR": "{file}"}, ["analyze", "{video}"]),
    "DFDESK_DATA_DIR below a file": ({"DFDESK_DATA_DIR": "{file}/data"}, ["case", "list"]),
}
MISSING_RECORDS = {
    "resume an unknown analysis": ["resume", "424242"],
    "report an unknown analysis": ["report", "424242", "--out", "{out}/u.pdf"],
    "case show an unknown id": ["case", "show", "--case-id", "424242"],
    "case show an unknown name": ["case", "show", "no such case"],
    "ingest into an unknown case id": ["ingest", "{video}", "--case-id", "424242"],
    "analyze an unknown model": ["analyze", "{video}", "--models", "no_such_model"],
    "analyze an untrained model": ["analyze", "{video}", "--models", "sta_clip"],
    "audit verify a missing report": ["audit", "verify", "--report", "{out}/missing.pdf"],
    "report verify a missing file": ["report", "verify", "{out}/missing.pdf"],
    "models import a folder": ["models", "import", "{out}", "--architecture", "meso4", "--name", "m"],
    "unknown command": ["frobnicate"],
    "unknown option": ["analyze", "{video}", "--bogus"],
}


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    db: str | None = "{db}"  # the --db value; None: no --db (the data folder's database)
    words: str = ""  # the one line must contain this


def _corpus() -> dict[str, Case]:
    corpus: dict[str, Case] = {}
    for option, argv in INTEGER_OPTIONS.items():
        for name, value in BAD_INTEGERS.items():
            if not (option == "analyze --seed" and value == "0"):
                corpus[f"{option} {name}"] = Case(tuple(a.replace("{}", value) for a in argv))
    for option, argv in OUTPUT_OPTIONS.items():
        for name, value in BAD_OUTPUTS.items():
            corpus[f"{option} {name}"] = Case(tuple(a.replace("{}", value) for a in argv))
    for command, argv in DATABASE_COMMANDS.items():
        for name, value in BAD_DATABASES.items():
            corpus[f"--db {name}, {command}"] = Case(tuple(argv), db=value)
    corpus.update({name: Case(tuple(argv)) for name, argv in TEXT_VALUES.items()})
    corpus["case number 65 names the limit"] = Case(("case", "new", "N", "--number", "9" * 65), words="limit is 64")
    corpus.update({name: Case(tuple(argv), env=env, db=None) for name, (env, argv) in ENVIRONMENTS.items()})
    corpus.update({name: Case(tuple(argv)) for name, argv in MISSING_RECORDS.items()})
    corpus["analyze an untrained model says so"] = Case(("analyze", "{video}", "--models", "sta_clip"),
                                                        words="needs training")
    return corpus


CORPUS = _corpus()


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 60


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, clip_dir: Path) -> Path:
    """A database holding two cases and one ingested clip (made once; each case gets a copy)."""
    folder = tmp_path_factory.mktemp("edge_template")
    db = folder / "cases.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DFDESK_DATA_DIR", str(folder / "userdata"))
        patch.setenv("DFDESK_ANALYST", "seeder")
        assert run_cli(["case", "new", "Existing", "--db", str(db)]) == 0
        assert run_cli(["ingest", str(clip_dir / "face.mp4"), "--case", "Existing", "--db", str(db)]) == 0
    assert not db.with_name("cases.sqlite-wal").exists(), "the copies below would miss the last changes"
    return db


@pytest.fixture
def places(tmp_path: Path, template: Path, clip_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Where a case's values point; the installation (data folder, signing key) is the template's, so that
    ``audit verify`` checks the copy's signatures with the key that made them."""
    monkeypatch.setenv("DFDESK_DATA_DIR", str(template.parent / "userdata"))
    out = tmp_path / "out"
    out.mkdir()
    regular = tmp_path / "a regular file.txt"
    regular.write_text("not a folder")
    db = tmp_path / "cases.sqlite"
    shutil.copyfile(template, db)
    return {"{db}": str(db), "{out}": str(out), "{file}": str(regular), "{video}": str(clip_dir / "face.mp4")}


def _fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace(key, value)
    return text


@pytest.fixture
def traceback_hook(monkeypatch: pytest.MonkeyPatch):
    """Fails the case when a thread dies of an exception or a traceback is printed by any route."""
    escaped: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: escaped.append(f"thread: {hook.exc_value!r}"))
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, _tb: escaped.append(f"{kind.__name__}: {value}"))
    return escaped


@pytest.mark.parametrize("name", list(CORPUS))
def test_a_bad_value_ends_in_one_line_exit_2_and_an_untouched_database(
        name: str, places: dict[str, str], traceback_hook: list[str], capsys: pytest.CaptureFixture) -> None:
    case = CORPUS[name]
    db = Path(places["{db}"])
    before = dump(db)
    argv = [_fill(a, places) for a in case.argv]
    if case.db is not None:
        argv += ["--db", _fill(case.db, places)]
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as environment:
        for key, value in case.env.items():
            environment.setenv(key, _fill(value, places))
        try:
            code = run_cli(argv)
        except BaseException as exc:  # noqa: BLE001  (the hook: nothing may escape the command line)
            pytest.fail(f"{name}: {type(exc).__name__} escaped run_cli: {exc}"[:500])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert TRACEBACK not in err and not traceback_hook, f"{name}: {err[:2000]} {traceback_hook}"
    assert code == 2, f"{name}: exit {code}, stderr {err[:500]!r}"
    assert len(lines) == 1 and lines[0].startswith("dfdesk: error: "), f"{name}: {err[:500]!r}"
    assert "unexpected" not in lines[0], f"{name}: caught only by the last resort: {lines[0][:300]}"
    assert case.words in lines[0]
    _assert_untouched(db, before)


def _assert_untouched(db: Path, before: list[str]) -> None:
    assert dump(db) == before
    assert integrity(db) == "ok"
    assert run_cli(["audit", "verify", "--db", str(db)]) == 0
