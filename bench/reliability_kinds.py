"""The hostile kinds of bench/reliability.py: each one input a user or an attacker can give the real command line,
and a check of the right outcome.

A kind is a function ``(workbench, folder) -> Attempt``: it makes its input in ``folder`` (a fresh one), runs the
CLI, and judges the result (:meth:`Attempt.judge`): right or not, and whether a wrong outcome was silent (the
command said it did what was asked, but did something else).  The classes are issue 21's: 1 a traceback instead
of one line, 2 a silent misread, 3 evidence and reports, 4 the analysed bytes are the hashed bytes; ``files`` is
the earlier corpus of damaged and unusual video files (tests/fixtures/hostile.py).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bench.reliability_workbench import ANALYZE, FRAMES, Attempt, Workbench, query
from tests.fixtures import hostile, streams

ONE_LINE, MISREAD, EVIDENCE, BYTES, FILES = "1 one line", "2 misread", "3 evidence/reports", "4 analysed bytes", "files"


@dataclass(frozen=True)
class Kind:
    name: str
    klass: str
    run: Callable[[Workbench, Path], Attempt]


# --- shared steps -------------------------------------------------------------------------------

def analyze_json(workbench: Workbench, video: Path, db: Path, folder: Path, *extra: str,
                 patches: tuple = ()) -> tuple[Attempt, dict | None]:
    """``dfdesk analyze VIDEO --json`` with the bench's models; the JSON document when one was written."""
    out = folder / "result.json"
    attempt = workbench.cli("analyze", str(video), *ANALYZE, *extra, "--json", str(out), "--db", str(db),
                            patches=patches)
    attempt.db = db
    document = json.loads(out.read_text()) if attempt.code == 0 and out.exists() else None
    if document is not None:
        attempt.outcome = (f"{document['verdict']}, {document['faces']['tracks']} track(s), stream "
                           f"{document['settings'].get('stream_index')}, {len(document['warnings'])} warning(s)")
    return attempt, document


def no_space(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def newest_evidence_case(db: Path) -> str | None:
    rows = query(db, "SELECT cases.name FROM evidence JOIN cases ON cases.id = evidence.case_id "
                     "ORDER BY evidence.id DESC LIMIT 1")
    return rows[0][0] if rows else None


def newest_status(db: Path) -> str | None:
    rows = query(db, "SELECT status FROM analyses ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows else None


def evidence_count(db: Path) -> int:
    return query(db, "SELECT count(*) FROM evidence")[0][0]


def clear_crop_cache() -> None:
    """Class-4 kinds decode the evidence itself, never faces cached by an earlier kind."""
    from dfdesk import paths

    shutil.rmtree(paths.cache_dir() / "crops", ignore_errors=True)


# --- files: the earlier corpus ------------------------------------------------------------------

def _file_kind(make: Callable[[Path], Path], expected: str) -> Callable[[Workbench, Path], Attempt]:
    """Analyse the file ``make(folder)`` writes; ``expected``: refused, face, no_face, twenty (20 tracks), or
    refused_or_warned (a refusal, or a result carrying a warning)."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        video = make(folder)
        attempt, document = analyze_json(workbench, video, workbench.fresh_db(folder), folder)
        verdict = document["verdict"] if document else None
        right = {"refused": attempt.refused_in_one_line(2),
                 "face": verdict not in (None, "no_face"),
                 "no_face": verdict == "no_face",
                 "twenty": document is not None and document["faces"]["tracks"] == 20,
                 "refused_or_warned": attempt.refused_in_one_line(2) or bool(document and document["warnings"]),
                 }[expected]
        return attempt.judge(right, note=f"expected {expected}")
    return run


def _base(folder: Path) -> Path:
    return hostile.h264(folder, "base.mp4", n=30)


FILE_KINDS = {  # name: (writes the file into a folder, expected outcome)
    "zero-byte": (hostile.zero_byte, "refused"),
    "truncated 30%": (lambda f: hostile.truncated(f, _base(f), 0.3), "refused"),
    "truncated 95%": (lambda f: hostile.truncated(f, _base(f), 0.95), "refused"),
    "corrupted bytes mid-stream": (lambda f: hostile.corrupted_mid_stream(f, _base(f)), "refused_or_warned"),
    "random bytes .mp4": (hostile.random_bytes, "refused"),
    "WebM named .mp4": (hostile.webm_named_mp4, "face"),
    "MP4 named .avi": (hostile.mp4_named_avi, "face"),
    "16000x16000 header (y4m)": (hostile.huge_dimensions_y4m, "refused"),
    "16000x16000 header (VP8)": (hostile.huge_dimensions_vp8, "refused"),
    "one frame": (hostile.one_frame, "face"),
    "10-bit HEVC": (hostile.hevc_10bit, "face"),
    "VP9/WebM": (hostile.vp9_webm, "face"),
    "MJPEG AVI": (hostile.mjpeg_avi, "face"),
    "interlaced": (hostile.interlaced, "face"),
    "VFR": (hostile.variable_frame_rate, "face"),
    "rotation 90": (lambda f: hostile.rotated(f, 90), "face"),
    "rotation 180": (lambda f: hostile.rotated(f, 180), "face"),
    "rotation 270": (lambda f: hostile.rotated(f, 270), "face"),
    "grayscale": (hostile.grayscale, "face"),
    "audio only": (hostile.audio_only, "refused"),
    "20 faces": (hostile.twenty_faces, "twenty"),
    "face below minimum": (hostile.tiny_face, "no_face"),
    "2-hour file": (hostile.two_hours, "face"),
    "spaces + non-ASCII path": (hostile.awkward_path, "face"),
    "symlink": (hostile.symlink, "face"),
    "read-only folder": (hostile.read_only, "face"),
}


# --- class 1: one line, never a traceback -------------------------------------------------------

EDGE_SELECTION = (  # names in tests/reliability/test_cli_edge_corpus.py's CORPUS (176 cases): one of each family
    "analyze --seed 2**70", "analyze --frames Arabic-Indic 12", "analyze --case-id -1", "resume ID 2**70",
    "report ID fullwidth 7", "batch --workers 0", "ingest --case-id 1e3", "case show --case-id hex",
    "analyze --json missing folder", "analyze --json a folder", "analyze --json below a file",
    "analyze --report below a file", "report --out a folder", "batch --csv missing folder",
    "models export-onnx --out below a file", "sample OUT a folder",
    "--db below a file, ingest", "--db a folder, case list", "--db empty name, case new",
    "case number 100k", "report --examiner 100k", "case name with newline", "case name bidi override",
    "description with NUL", "undecodable byte in case name", "--case and --case-id together",
    "DFDESK_ANALYST 100k", "DFDESK_DATA_DIR a file, analyze", "DFDESK_DATA_DIR below a file",
    "resume an unknown analysis", "analyze an untrained model", "report verify a missing file", "unknown option",
)


def _edge_kind(case) -> Callable[[Workbench, Path], Attempt]:
    """One case of the edge corpus: exit 2, one line, the database's rows unchanged (an SQL dump)."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        from tests.cli.conftest import dump

        db = workbench.fresh_db(folder)
        (folder / "out").mkdir()
        regular = folder / "a regular file.txt"
        regular.write_text("not a folder")
        places = {"{db}": str(db), "{out}": str(folder / "out"), "{file}": str(regular),
                  "{video}": str(workbench.clip)}

        def fill(text: str) -> str:
            for key, value in places.items():
                text = text.replace(key, value)
            return text

        argv = [fill(a) for a in case.argv] + ([] if case.db is None else ["--db", fill(case.db)])
        before = dump(db)
        attempt = workbench.cli(*argv, env={key: fill(value) for key, value in case.env.items()})
        attempt.db = db
        untouched = dump(db) == before
        return attempt.judge(attempt.refused_in_one_line(2) and case.words in attempt.stderr and untouched,
                             misread=attempt.code == 0 or not untouched, note="expected exit 2, one line, untouched")
    return run


def edge_kinds(names: tuple[str, ...] | None = EDGE_SELECTION) -> list[Kind]:
    """The edge corpus's cases named in ``names`` (None: all of them)."""
    from tests.reliability.test_cli_edge_corpus import CORPUS

    chosen = CORPUS if names is None else {name: CORPUS[name] for name in names}
    return [Kind(f"edge: {name}", ONE_LINE, _edge_kind(case)) for name, case in chosen.items()]


def _in_a_fresh_interpreter(argv: tuple[str, ...], env: dict[str, str]) -> Callable[[Workbench, Path], Attempt]:
    """``python -m dfdesk`` with ``env`` ({file}: a regular file; {db}: a fresh database): exit 2, one line."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        from tests.cli.conftest import dump

        db, regular = workbench.fresh_db(folder), folder / "a regular file.txt"
        regular.write_text("not a folder")
        places = {"{file}": str(regular), "{db}": str(db), "{video}": str(workbench.clip)}
        fill = lambda text: places.get(text, text)  # noqa: E731
        before = dump(db)
        attempt = workbench.subprocess_cli(*map(fill, argv), env={k: fill(v) for k, v in env.items()})
        attempt.db = db
        untouched = dump(db) == before
        return attempt.judge(attempt.refused_in_one_line(2) and untouched, misread=attempt.code == 0 or not untouched,
                             note="expected exit 2, one line, untouched")
    return run


def disk_full_json(workbench: Workbench, folder: Path) -> Attempt:
    """The disk fills while the JSON is written: exit 1, one line, no partial file, the analysis saved."""
    db, out = workbench.fresh_db(folder), folder / "out"
    out.mkdir()
    full_for_json = SimpleNamespace(dump=no_space)  # only the JSON write fails (json.dump is shared by others)
    attempt = workbench.cli("analyze", str(workbench.clip), *ANALYZE, "--json", str(out / "r.json"), "--db", str(db),
                            patches=(("dfdesk.cli.analyze_command.json", full_for_json),))
    attempt.db = db
    return attempt.judge(attempt.refused_in_one_line(1) and "No space left" in attempt.stderr
                         and not any(out.iterdir()) and newest_status(db) == "done",
                         misread=any(out.iterdir()), note=f"newest analysis {newest_status(db)}")


def disk_full_report(workbench: Workbench, folder: Path) -> Attempt:
    """The disk fills when the report is published (os.replace): exit 1, one line, no report file."""
    db, out = workbench.fresh_db(folder), folder / "r.pdf"
    attempt = workbench.cli("report", "1", "--out", str(out), "--db", str(db),
                            patches=(("dfdesk.services.report_publish.os.replace", no_space),))
    attempt.db = db
    leftovers = [p.name for p in folder.iterdir() if p.name != db.name and not p.name.startswith(db.name)]
    return attempt.judge(attempt.refused_in_one_line(1) and "No space left" in attempt.stderr and not leftovers,
                         misread=out.exists(), note=f"left in the folder: {leftovers}")


def disk_full_saving(workbench: Workbench, folder: Path) -> Attempt:
    """The disk fills while the analysis's results are saved: exit 1, one line, the analysis marked failed."""
    db = workbench.fresh_db(folder)
    attempt = workbench.cli("analyze", str(workbench.clip), *ANALYZE, "--db", str(db),
                            patches=(("dfdesk.services.analysis.save_outcome", no_space),))
    attempt.db = db
    status = newest_status(db)
    return attempt.judge(attempt.refused_in_one_line(1) and status == "failed",
                         note=f"the analysis row is left '{status}'")


def _tiny_frames(side: int) -> Callable[[Workbench, Path], Attempt]:
    def run(workbench: Workbench, folder: Path) -> Attempt:
        attempt, document = analyze_json(workbench, hostile.tiny_frames(folder, side), workbench.fresh_db(folder),
                                         folder)
        return attempt.judge(document is not None and document["verdict"] == "no_face", note="expected no_face")
    return run


def examiner_at_its_limit(workbench: Workbench, folder: Path) -> Attempt:
    """A 200-character examiner name without a space (the limit): the report is written (wrapped), exit 0."""
    db, out = workbench.fresh_db(folder), folder / "r.pdf"
    attempt = workbench.cli("report", "1", "--out", str(out), "--examiner", "W" * 200, "--db", str(db))
    attempt.db = db
    return attempt.judge(attempt.code == 0 and out.exists(), note="expected a report")


# --- class 2: silent misreads -------------------------------------------------------------------

def _literal_db_name(name: str) -> Callable[[Workbench, Path], Attempt]:
    """``--db NAME`` (relative, from ``folder``) creates exactly the file NAME: no URL or URI parsing."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        attempt = workbench.cli("case", "new", "X", "--db", name, cwd=folder)
        made = sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm", "-journal")))
        attempt.db = folder / name if (folder / name).is_file() else None
        return attempt.judge(attempt.code == 0 and made == [name], note=f"files made: {made}")
    return run


def _case_by_name(name: str) -> Callable[[Workbench, Path], Attempt]:
    """``ingest --case NAME`` files the clip under a case NAMED ``name`` even when it is made of digits (case 1
    is "Existing")."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        db = workbench.fresh_db(folder)
        attempt = workbench.cli("ingest", str(workbench.clip), "--case", name, "--db", str(db))
        attempt.db = db
        filed = newest_evidence_case(db)
        return attempt.judge(attempt.code == 0 and filed == name, note=f"filed under {filed!r}")
    return run


def case_by_id(workbench: Workbench, folder: Path) -> Attempt:
    """``ingest --case-id 1`` files a new clip under case 1, "Existing"."""
    db = workbench.fresh_db(folder)
    attempt = workbench.cli("ingest", str(hostile.faceless(folder)), "--case-id", "1", "--db", str(db))
    attempt.db = db
    filed = newest_evidence_case(db)
    return attempt.judge(attempt.code == 0 and filed == "Existing", note=f"filed under {filed!r}")


def _two_streams(*extra: str, stream: int, verdict_is_no_face: bool) -> Callable[[Workbench, Path], Attempt]:
    """A Matroska file: stream 0 without a face, stream 1 (marked default) with one.  The stream analysed must be
    ``stream`` (its verdict shows which), with a warning that the file has two video streams."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        video = streams.two_video_streams(folder / "two.mkv", default=1, face_on=1, audio=True)
        attempt, document = analyze_json(workbench, video, workbench.fresh_db(folder), folder, *extra)
        warned = any("video streams" in line for line in attempt.stderr.splitlines() if line.startswith("warning:"))
        analysed = document is not None and document["settings"].get("stream_index") == stream
        face_verdict = document is not None and (document["verdict"] == "no_face") == verdict_is_no_face
        return attempt.judge(attempt.code == 0 and warned and analysed and face_verdict,
                             note=f"warned {warned}, stream {stream} analysed {analysed}, verdict {face_verdict}")
    return run


def two_streams_missing_stream(workbench: Workbench, folder: Path) -> Attempt:
    video = streams.two_video_streams(folder / "two.mkv", default=1, face_on=1)
    attempt, _ = analyze_json(workbench, video, workbench.fresh_db(folder), folder, "--stream", "7")
    return attempt.judge(attempt.refused_in_one_line(2), note="expected exit 2, one line")


def _refused_untouched(make: Callable[[Workbench, Path], Path], argv: tuple[str, ...]
                       ) -> Callable[[Workbench, Path], Attempt]:
    """``argv --db FILE`` where FILE = ``make(...)`` is not a usable dfdesk database: exit 2, one line, FILE's bytes
    unchanged (no schema, stamp or journal written into it)."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        path = make(workbench, folder)
        before = path.read_bytes()
        args = [str(workbench.clip) if a == "{video}" else a for a in argv]
        attempt = workbench.cli(*args, "--db", str(path))
        unchanged = path.read_bytes() == before
        return attempt.judge(attempt.refused_in_one_line(2) and unchanged,
                             misread=attempt.code == 0 or not unchanged, note=f"bytes unchanged: {unchanged}")
    return run


def _foreign(_workbench: Workbench, folder: Path) -> Path:
    return hostile.foreign_sqlite(folder)


def _damaged(workbench: Workbench, folder: Path) -> Path:
    return hostile.damaged_database(workbench.template, folder / "damaged.sqlite")


# --- class 3: evidence and reports --------------------------------------------------------------

def _changed_at_a_known_path(command: str) -> Callable[[Workbench, Path], Attempt]:
    """Ingest a file, overwrite it with another video, then ``command`` it again by the same path: refused as a
    hash mismatch naming the intake SHA-256, no second evidence row."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        db, evidence = workbench.fresh_db(folder), hostile.h264(folder, "evidence.mp4", n=12)  # new to the case
        first = workbench.cli("ingest", str(evidence), "--case", "Existing", "--db", str(db))
        if first.code != 0:
            return first.judge(False, note=f"the first intake failed: {first.stderr[-200:]}")
        intake_hash = query(db, "SELECT sha256 FROM evidence WHERE file_name = 'evidence.mp4'")[0][0]
        rows = evidence_count(db)
        evidence.write_bytes(hostile.faceless(folder).read_bytes())
        argv = ("ingest", str(evidence)) if command == "ingest" else ("analyze", str(evidence), *ANALYZE)
        attempt = workbench.cli(*argv, "--case", "Existing", "--db", str(db))
        attempt.db = db
        added = evidence_count(db) - rows
        return attempt.judge(attempt.code != 0 and len(attempt.error_lines()) == 1 and not attempt.last_resort
                             and intake_hash in attempt.stderr and added == 0,
                             misread=attempt.code == 0 or added > 0, note=f"{added} evidence row(s) added")
    return run


def _report_over_an_existing_file(force: bool) -> Callable[[Workbench, Path], Attempt]:
    """Without --force: exit 2, the file untouched; with it: replaced, and the audit log says what it replaced."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        db, out = workbench.fresh_db(folder), folder / "r.pdf"
        out.write_bytes(b"%PDF-1.4\n% an earlier report\n")
        before = out.read_bytes()
        attempt = workbench.cli("report", "1", "--out", str(out), "--db", str(db), *(["--force"] if force else []))
        attempt.db = db
        replaced = out.read_bytes() != before
        if not force:
            return attempt.judge(attempt.refused_in_one_line(2) and not replaced, misread=replaced,
                                 note=f"replaced: {replaced}")
        audited = query(db, "SELECT count(*) FROM audit_events WHERE action = 'report.overwrite'")[0][0]
        return attempt.judge(attempt.code == 0 and replaced and audited == 1, note=f"overwrite audited {audited}x")
    return run


def _report_verify(edited: bool) -> Callable[[Workbench, Path], Attempt]:
    """Export a report, change one byte of it (or not), and ``report verify`` it: exit 1 (or 0).  The edit is
    undone afterwards (``audit verify`` also checks recorded reports, and would rightly fail on it)."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        db, out = workbench.fresh_db(folder), folder / "r.pdf"
        export = workbench.cli("report", "1", "--out", str(out), "--db", str(db))
        if export.code != 0:
            export.db = db
            return export.judge(False, note="the export failed")
        if edited:
            hostile.edited_pdf(out, out)
        attempt = workbench.cli("report", "verify", str(out), "--db", str(db))
        attempt.db, attempt.seconds = db, attempt.seconds + export.seconds
        if edited:  # the byte back: `audit verify` afterwards judges the database, not the deliberate edit
            hostile.edited_pdf(out, out)
        return attempt.judge(attempt.code == (1 if edited else 0), note=f"expected exit {1 if edited else 0}")
    return run


def relative_evidence_reported_elsewhere(workbench: Workbench, folder: Path) -> Attempt:
    """Evidence analysed by a relative path; its report exported from another folder finds it (hash check ok)."""
    db, intake, elsewhere = workbench.fresh_db(folder), folder / "intake", folder / "elsewhere"
    intake.mkdir()
    elsewhere.mkdir()
    shutil.copyfile(workbench.clip, intake / "clip.mp4")
    first = workbench.cli("analyze", "clip.mp4", *ANALYZE, "--db", str(db), cwd=intake)
    if first.code != 0:
        first.db = db
        return first.judge(False, note="the analysis failed")
    analysis_id = query(db, "SELECT max(id) FROM analyses")[0][0]
    attempt = workbench.cli("report", str(analysis_id), "--out", "r.pdf", "--db", str(db), cwd=elsewhere)
    attempt.db, attempt.seconds = db, attempt.seconds + first.seconds
    return attempt.judge(attempt.code == 0 and (elsewhere / "r.pdf").exists(), note="expected exit 0 and a report")


def analyze_report_onto_an_existing_file(workbench: Workbench, folder: Path) -> Attempt:
    """``analyze --report`` naming an existing file: exit 2 before any work, the file untouched."""
    db, out = workbench.fresh_db(folder), folder / "r.pdf"
    out.write_bytes(b"%PDF-1.4\n% keep me\n")
    analyses = query(db, "SELECT count(*) FROM analyses")[0][0]
    attempt = workbench.cli("analyze", str(workbench.clip), *ANALYZE, "--report", str(out), "--db", str(db))
    attempt.db = db
    untouched = out.read_bytes() == b"%PDF-1.4\n% keep me\n" and query(db, "SELECT count(*) FROM analyses")[0][0] \
        == analyses
    return attempt.judge(attempt.refused_in_one_line(2) and untouched, misread=not untouched,
                         note=f"untouched: {untouched}")


# --- class 4: the analysed bytes are the hashed bytes -------------------------------------------

def _swap_after_the_hash_check(how: str) -> Callable[[Workbench, Path], Attempt]:
    """Between the hash check and the decode (the seam dfdesk.services.analysis.plan_analysis), a faceless video
    replaces the evidence: by rename (``renamed``: the hashed file must still be what is analysed) or by writing
    over its bytes (``written``: the analysis fails, exit 1, naming both hashes)."""
    def run(workbench: Workbench, folder: Path) -> Attempt:
        from dfdesk.services import analysis

        clear_crop_cache()
        evidence, swap = hostile.h264(folder, "evidence.mp4"), hostile.faceless(folder, "swap.mp4")
        planned = analysis.plan_analysis

        def swap_then_plan(*args, **kwargs):
            if how == "renamed":
                os.replace(swap, evidence)
            else:
                evidence.write_bytes(swap.read_bytes())
            return planned(*args, **kwargs)

        db = workbench.fresh_db(folder)
        attempt, document = analyze_json(workbench, evidence, db, folder,
                                         patches=(("dfdesk.services.analysis.plan_analysis", swap_then_plan),))
        if how == "renamed":
            faces = document["faces"]["frames_with_face"] if document else None
            return attempt.judge(faces == FRAMES, misread=attempt.code == 0 and faces != FRAMES,
                                 note=f"{faces} of {FRAMES} frames with a face (the swap has none)")
        hashes = [row[0] for row in query(db, "SELECT sha256 FROM evidence ORDER BY id DESC LIMIT 1")]
        named = bool(hashes) and hashes[0] in attempt.stderr
        return attempt.judge(attempt.refused_in_one_line(1) and named and newest_status(db) == "failed",
                             note=f"intake hash named {named}, analysis {newest_status(db)}")
    return run


def written_while_decoding(workbench: Workbench, folder: Path) -> Attempt:
    """The evidence's last 64 bytes are overwritten after the first decoded batch: exit 1, "changed while it was
    analysed", the analysis failed."""
    from dfdesk.core import pipeline

    clear_crop_cache()
    evidence = hostile.h264(folder, "evidence.mp4", n=12)
    released = pipeline.release_free_memory

    def write_then_release() -> None:
        with evidence.open("r+b") as handle:
            handle.seek(-64, os.SEEK_END)
            handle.write(bytes(64))
        released()

    db = workbench.fresh_db(folder)
    attempt, _ = analyze_json(workbench, evidence, db, folder,
                              patches=(("dfdesk.core.pipeline.release_free_memory", write_then_release),))
    return attempt.judge(attempt.refused_in_one_line(1) and "changed while it was analysed" in attempt.stderr
                         and newest_status(db) == "failed", note=f"analysis {newest_status(db)}")


# --- the list -----------------------------------------------------------------------------------

def bespoke_kinds() -> list[Kind]:
    return [
        Kind("disk full writing --json", ONE_LINE, disk_full_json),
        Kind("disk full publishing a report", ONE_LINE, disk_full_report),
        Kind("disk full saving an analysis", ONE_LINE, disk_full_saving),
        *(Kind(f"{s}x{s} frames", ONE_LINE, _tiny_frames(s)) for s in (1, 2, 8)),
        Kind("examiner at its 200-character limit", ONE_LINE, examiner_at_its_limit),
        Kind("DFDESK_DATA_DIR names a file (subprocess)", ONE_LINE,
             _in_a_fresh_interpreter(("case", "list"), {"DFDESK_DATA_DIR": "{file}"})),
        Kind("DFDESK_ANALYST 100 kB (subprocess)", ONE_LINE,
             _in_a_fresh_interpreter(("case", "new", "E", "--db", "{db}"), {"DFDESK_ANALYST": "a" * 100_000})),
        Kind("--seed 2**70 (subprocess)", ONE_LINE,
             _in_a_fresh_interpreter(("analyze", "{video}", "--seed", str(2**70), "--db", "{db}"), {})),
        *(Kind(f"--db {name!r}", MISREAD, _literal_db_name(name)) for name in ("a?b.sqlite", "a%20b.sqlite",
                                                                            "a#b.sqlite")),
        Kind("--case 1 (a name)", MISREAD, _case_by_name("1")),
        Kind("--case ١ (Arabic-Indic one, a name)", MISREAD, _case_by_name("١")),
        Kind("--case-id 1", MISREAD, case_by_id),
        Kind("two video streams, default 1", MISREAD, _two_streams(stream=1, verdict_is_no_face=False)),
        Kind("two video streams, --stream 0", MISREAD, _two_streams("--stream", "0", stream=0,
                                                                    verdict_is_no_face=True)),
        Kind("two video streams, --stream 7 (none)", MISREAD, two_streams_missing_stream),
        Kind("foreign SQLite file, case new", MISREAD, _refused_untouched(_foreign, ("case", "new", "X"))),
        Kind("foreign SQLite file, ingest", MISREAD,
             _refused_untouched(_foreign, ("ingest", "{video}", "--case", "X"))),
        Kind("foreign SQLite file, audit verify", MISREAD, _refused_untouched(_foreign, ("audit", "verify"))),
        Kind("damaged database (index page overwritten), case list", MISREAD,
             _refused_untouched(_damaged, ("case", "list"))),
        Kind("damaged database (index page overwritten), ingest", MISREAD,
             _refused_untouched(_damaged, ("ingest", "{video}", "--case", "X"))),
        Kind("re-ingest of a changed file at a known path", EVIDENCE, _changed_at_a_known_path("ingest")),
        Kind("re-analyse of a changed file at a known path", EVIDENCE, _changed_at_a_known_path("analyze")),
        Kind("report --out over an existing PDF", EVIDENCE, _report_over_an_existing_file(force=False)),
        Kind("report --out over an existing PDF --force", EVIDENCE, _report_over_an_existing_file(force=True)),
        Kind("analyze --report onto an existing file", EVIDENCE, analyze_report_onto_an_existing_file),
        Kind("report verify, untouched PDF", EVIDENCE, _report_verify(edited=False)),
        Kind("report verify, one byte edited", EVIDENCE, _report_verify(edited=True)),
        Kind("relative evidence path, report from another folder", EVIDENCE, relative_evidence_reported_elsewhere),
        Kind("evidence renamed over after the hash check", BYTES, _swap_after_the_hash_check("renamed")),
        Kind("evidence written over after the hash check", BYTES, _swap_after_the_hash_check("written")),
        Kind("evidence written to while decoding", BYTES, written_while_decoding),
    ]


def all_kinds(edges: str = "selection") -> list[Kind]:
    """Every kind: the edge corpus (``selection`` or ``all``), the bespoke ones (classes 1 to 4), the file corpus."""
    files = [Kind(name, FILES, _file_kind(make, expected)) for name, (make, expected) in FILE_KINDS.items()]
    return [*edge_kinds(EDGE_SELECTION if edges == "selection" else None), *bespoke_kinds(), *files]
