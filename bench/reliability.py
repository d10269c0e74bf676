"""Reliability figures: every hostile kind (bench/reliability_kinds.py) through the real CLI, and N kill -9 rounds.

    .venv/bin/python bench/reliability.py [--kills 20] [--seed 20260110] [--edges selection|all] [--only TEXT]

For each kind it prints a Markdown row: kind, class (issue 21's), outcome (the verdict, or the first error line),
exit code, traceback (one printed, or an exception escaping ``run_cli``), silent misread (the kind's own check of the
right outcome), the database checks run afterwards (``PRAGMA integrity_check`` and ``dfdesk audit verify`` on the
database the kind used) and seconds; then the totals and the crash-safety tally (kills landed, integrity failures,
half-written analyses, audit-chain breaks: all should be 0).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository first

OUTCOME_WIDTH = 140


@dataclass
class Row:
    kind: str
    klass: str
    outcome: str
    code: str
    traceback: bool
    misread: bool
    wrong: bool  # the outcome is not the right one (silently or not)
    last_resort: bool  # ended by run_cli's catch-all "unexpected" line
    checks: str  # "ok", "-" (no dfdesk database in play) or what failed
    seconds: float

    def cells(self) -> list[str]:
        return [self.kind, self.klass, self.outcome, self.code, "yes" if self.traceback else "no",
                "yes" if self.misread else "no", self.checks, f"{self.seconds:.1f}"]


def run_kind(workbench, kind) -> Row | None:
    """Run one kind and check its database; None when this machine cannot make its input (a missing encoder)."""
    from bench.reliability_workbench import audit_verify_code, integrity
    from tests.fixtures.hostile import MissingEncoder

    folder = workbench.folder(kind.name.replace("/", "_")[:60])
    try:
        attempt = kind.run(workbench, folder)
    except MissingEncoder as exc:
        print(f"skipped {kind.name}: {exc}", file=sys.stderr)
        return None
    except Exception:  # noqa: BLE001  (the bench's own step failed: shown, counted as a wrong outcome)
        traceback.print_exc()
        return Row(kind.name, kind.klass, "bench error (see stderr)", "-", False, False, True, False, "-", 0.0)
    checks = "-"
    if attempt.db is not None and attempt.db.exists():
        state, code = integrity(attempt.db), audit_verify_code(workbench, attempt.db)
        checks = "ok" if state == "ok" and code == 0 else f"integrity {state[:40]}; audit verify exit {code}"
    outcome = shorten(outcome_text(attempt).replace(str(folder), ".").replace(str(workbench.root), "$WORK"))
    return Row(kind.name, kind.klass, outcome, str(attempt.code), attempt.traceback, attempt.misread,
               not attempt.right, attempt.last_resort, checks, attempt.seconds)


def outcome_text(attempt) -> str:
    """The kind's summary or the first line that matters, with what was wrong; one Markdown cell."""
    if attempt.escaped:
        text = f"escaped run_cli: {attempt.escaped}"
    elif attempt.code != 0:
        lines = attempt.error_lines()
        errors = [line for line in lines if line.startswith("dfdesk: error: ")]
        text = (errors or lines or ["(nothing on stderr)"])[0].removeprefix("dfdesk: error: ")
    else:
        text = attempt.outcome or (attempt.stdout.strip().splitlines() or ["(no output)"])[0]
    if not attempt.right:
        others = [line for line in attempt.error_lines() if not line.startswith("dfdesk: error: ")]
        more = f"; other stderr: {others[0][:80]!r} (+{len(others) - 1})" if others else ""
        text = f"WRONG ({attempt.note}{more}): {text}"
    return text.replace("|", "\\|").replace("\n", " ")


def shorten(text: str) -> str:
    return text if len(text) <= OUTCOME_WIDTH else text[: OUTCOME_WIDTH - 1] + "…"


def totals(rows: list[Row]) -> dict[str, int]:
    return {"kinds": len(rows), "tracebacks": sum(r.traceback for r in rows),
            "silent misreads": sum(r.misread for r in rows),
            "other wrong outcomes": sum(r.wrong and not r.misread for r in rows),
            "last-resort lines": sum(r.last_resort for r in rows),
            "database check failures": sum(r.checks not in ("ok", "-") for r in rows)}


def print_table(header: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |", flush=True)


def run_kills(work: Path, kills: int, seed: int) -> dict:
    from tests.fixtures import hostile
    from tests.reliability import test_crash_safety as crash
    from tests.reliability.conftest import audit_problems, half_written, integrity

    rng = random.Random(seed)
    db_path = work / "kills.sqlite"
    clip = hostile.h264(work, "kill.mp4", n=8)
    args = ("--models", "meso4_df", "--frames", "4", "--device", "cpu", "--db", str(db_path))
    started = time.monotonic()
    assert crash._start("analyze", str(clip), *args).wait() == 0
    whole = time.monotonic() - started
    tally = {"rounds": kills, "kills landed": 0, "integrity failures": 0, "half-written analyses": 0,
             "audit chain breaks": 0}
    for _ in range(kills):
        process = crash._start("analyze", str(clip), *args)
        if crash._kill_after(process, rng.uniform(0, 0.3) * whole, lambda: crash._analysis_running(db_path)):
            tally["kills landed"] += 1
        tally["integrity failures"] += integrity(db_path) != "ok"
        tally["half-written analyses"] += len(half_written(db_path))
        tally["audit chain breaks"] += len(audit_problems(db_path))
    return tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20260110)
    parser.add_argument("--edges", choices=("selection", "all"), default="selection",
                        help="the edge corpus's cases to run: one of each family (default) or all of them")
    parser.add_argument("--only", default="", help="run only the kinds whose name contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["DFDESK_DATA_DIR"] = str(work / "userdata")
        os.environ["DFDESK_ANALYST"] = "bench-analyst"
        from bench.reliability_kinds import all_kinds
        from bench.reliability_workbench import Workbench
        from tests.fixtures import clips

        workbench = Workbench(work, clips.make_face_clip(work / "face.mp4"))
        workbench.build_template()
        print_table(["kind", "class", "outcome", "exit", "traceback", "silent misread", "integrity + audit", "s"], [])
        rows = []
        for kind in all_kinds(args.edges):
            if args.only in kind.name and (row := run_kind(workbench, kind)) is not None:
                rows.append(row)
                print("| " + " | ".join(row.cells()) + " |", flush=True)
        print()
        summary = totals(rows)
        print_table(list(summary), [[str(v) for v in summary.values()]])
        if args.kills > 0:
            tally = run_kills(work, args.kills, args.seed)
            print()
            print_table(list(tally), [[str(v) for v in tally.values()]])


if __name__ == "__main__":
    main()
