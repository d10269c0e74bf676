"""The triage table: evidence strength read defensively, the sort order, and the exports."""
from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from dfdesk.services.batch_triage import (
    CSV_COLUMNS,
    UNORDERED,
    TriageRow,
    evidence_strength_of,
    order_note,
    sort_rows,
    triage_rows,
    write_csv,
    write_json,
)
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis
from tests.fixtures.analyses import make_saved_analysis

ROW = TriageRow(1, 1, "a.mp4", "/evidence/a.mp4", "ab" * 32, 10.0, 1, 16, "inconclusive", "inconclusive", 0.5,
                None, None, "meso4_df", 0.5, 3, 0.12, "host")


@pytest.mark.parametrize(("summary", "expected"), [
    ({"verdict": {"evidence": {"likelihood_ratio": 100.0, "log10_lr": 2.0}}}, (100.0, 2.0)),  # verdicts.py's place
    ({"verdict": {"likelihood_ratio": 0.1, "log10_lr": -1.0}}, (0.1, -1.0)),
    ({"likelihood_ratio": 1000.0, "log10_lr": 3.0}, (1000.0, 3.0)),  # top level of the summary
    ({"verdict": {"evidence": {"log10_lr": 1.0}}}, (10.0, 1.0)),  # the ratio recomputed when only log10 is there
    ({"verdict": {"evidence": None, "fake_probability": 0.7}}, (None, None)),  # no fitted ensemble
    ({"verdict": {"evidence": {"log10_lr": "strong"}}}, (None, None)),  # not a number
    ({"verdict": {"evidence": {"log10_lr": float("nan")}}}, (None, None)),
    ({}, (None, None)),  # saved before likelihood ratios existed
])
def test_the_likelihood_ratio_is_read_wherever_the_analysis_put_it(summary: dict, expected: tuple) -> None:
    assert evidence_strength_of(summary) == expected


def test_rows_sort_by_likelihood_ratio_or_odds_strongest_first_and_unscored_last() -> None:
    rows = [replace(ROW, analysis_id=1, fake_probability=0.9),  # odds 9: log10 0.95
            replace(ROW, analysis_id=2, fake_probability=0.2, likelihood_ratio=100.0, log10_lr=2.0),
            replace(ROW, analysis_id=3, fake_probability=None, verdict="no_face"),
            replace(ROW, analysis_id=4, fake_probability=0.1),
            replace(ROW, analysis_id=5, fake_probability=0.99, likelihood_ratio=0.5, log10_lr=-0.3)]
    assert [r.analysis_id for r in sort_rows(rows)] == [2, 1, 5, 4, 3]
    assert rows[2].strength is None and rows[1].evidence == "LR 100 (log10 +2.00)"



def test_a_table_no_evidence_can_order_says_so_here_and_on_the_command_line(capsys) -> None:
    from dfdesk.cli.batch_command import _print_table

    flat = [replace(ROW, analysis_id=i, likelihood_ratio=1.0, log10_lr=0.0, carries_evidence=False) for i in (1, 2)]
    assert order_note(flat) == UNORDERED and flat[0].evidence == "LR 1: no detector has weight"
    assert order_note([flat[0], replace(ROW, likelihood_ratio=3.0, log10_lr=0.48)]) == "" and order_note([]) == ""
    _print_table(flat)
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"{UNORDERED}." and "  LR 1: no detector has weight inconclusive" in printed[1]


def test_the_table_of_a_case_and_its_exports(db: Database, clip_dir: Path, tmp_path: Path) -> None:
    first = make_saved_analysis(db, clip_dir / "face.mp4", case="Triage")
    second = make_saved_analysis(db, clip_dir / "vfr.mp4", case="Triage")
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, first)
        analysis.verdict, analysis.fake_probability = "real", 0.1
        case_id = analysis.evidence.case_id
    with db.unit_of_work() as session:
        rows = triage_rows(session, case_id)
    assert [r.analysis_id for r in rows] == [second, first]
    assert rows[1].verdict == "real" and rows[1].verdict_text == "no manipulation detected by these models"
    assert rows[0].faces == 1 and rows[0].frames_with_face > 0 and rows[0].strongest_detector == "meso4_df"
    assert rows[0].peak_frame is not None and rows[0].computed_on == ""  # saved outside a batch: no worker named
    write_csv(rows, tmp_path / "t.csv")
    write_json(rows, tmp_path / "t.json", "Triage", [("/x/notes.txt", "not a readable video")])
    text = (tmp_path / "t.csv").read_text(encoding="utf-8")
    assert not re.search(r"\b(real|authentic)\b", text, re.IGNORECASE)  # people read the CSV: words only
    table = list(csv.DictReader(text.splitlines()))
    assert tuple(table[0]) == CSV_COLUMNS and [int(r["analysis_id"]) for r in table] == [second, first]
    document = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert [r["verdict"] for r in document["rows"]] == ["fake", "real"]  # scripts get the contract's labels
    assert document["refused"] == [{"path": "/x/notes.txt", "reason": "not a readable video"}]
    assert not list(tmp_path.glob(".t.*"))  # no temporary file left beside the exports
