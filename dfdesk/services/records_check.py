"""Do the case database's records still say what their audit events said when they were written?

The hash chain protects the audit log, not the tables beside it: someone with the database file can edit an
evidence row's SHA-256 or an analysis's verdict without touching the log.  So every record that an audit event
describes is compared with that event:

* ``evidence``: the SHA-256 against its ``evidence.ingest`` event;
* ``analyses``: a finished analysis's verdict and fused P(fake), in the columns and in the saved summary the
  report prints, against its ``analysis.done`` event;
* ``reports``: the SHA-256 and path against the ``report.export`` event, and the PDF itself when it is still
  at that path.

Records without their event, and events whose record is gone, are reported too.  What no event describes
(per-frame scores, notes' text) is not covered: see the threat model in docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dfdesk.core.probe import sha256_file
from dfdesk.store.tables import Analysis, AuditEvent, Evidence, Report

CHECKED_ACTIONS = ("evidence.ingest", "analysis.done", "report.export")


DIFFERS, UNAUDITED, GONE = "differs", "unaudited", "gone"


@dataclass(frozen=True)
class RecordProblem:
    table: str
    row: int | str  # the row's id (a report's uid)
    problem: str
    kind: str = DIFFERS  # DIFFERS from its event, UNAUDITED (no event), or GONE (event without its row)

    def __str__(self) -> str:
        return f"{self.table} {self.row}: {self.problem}"


def check_records(session: Session) -> list[RecordProblem]:
    """Every disagreement between the tables and the audit events that describe them."""
    events = _events_by_key(session)
    return [*_check_evidence(session, events["evidence.ingest"]),
            *_check_analyses(session, events["analysis.done"]),
            *_check_reports(session, events["report.export"])]


def check_analysis(session: Session, analysis_id: int) -> list[RecordProblem]:
    """The disagreements that concern one analysis and the evidence it analysed (checked before a report)."""
    analysis = session.get(Analysis, analysis_id)
    if analysis is None:
        return []
    events = _events_by_key(session)
    evidence = [p for p in _check_evidence(session, events["evidence.ingest"]) if p.row == analysis.evidence_id]
    analyses = [p for p in _check_analyses(session, events["analysis.done"]) if p.row == analysis_id]
    return evidence + analyses


def _events_by_key(session: Session) -> dict[str, dict[object, list[dict]]]:
    """action -> the record's key (evidence id, analysis id, report uid) -> the details of its events."""
    found: dict[str, dict[object, list[dict]]] = {action: defaultdict(list) for action in CHECKED_ACTIONS}
    query = select(AuditEvent).where(AuditEvent.action.in_(CHECKED_ACTIONS)).order_by(AuditEvent.id)
    for event in session.scalars(query):
        details = event.details if isinstance(event.details, dict) else {}
        key = {"evidence.ingest": event.evidence_id, "analysis.done": details.get("analysis_id"),
               "report.export": details.get("report_uid")}[event.action]
        found[event.action][key].append(details)
    return found


def _check_evidence(session: Session, ingests: dict[object, list[dict]]) -> list[RecordProblem]:
    problems, seen = [], set()
    for evidence in session.scalars(select(Evidence).order_by(Evidence.id)):
        seen.add(evidence.id)
        recorded = [d.get("sha256") for d in ingests.get(evidence.id, [])]
        if not recorded:
            problems.append(RecordProblem("evidence", evidence.id, "has no 'evidence.ingest' audit event", UNAUDITED))
        elif evidence.sha256 not in recorded:
            problems.append(RecordProblem("evidence", evidence.id, f"SHA-256 {evidence.sha256[:16]}… differs from "
                                                                  f"the one audited at intake ({recorded[0][:16]}…)"))
    problems += [RecordProblem("evidence", key, "was audited at intake but its row is gone", GONE)
                 for key in ingests if key not in seen]
    return problems


def _check_analyses(session: Session, dones: dict[object, list[dict]]) -> list[RecordProblem]:
    problems, seen = [], set()
    for analysis in session.scalars(select(Analysis).order_by(Analysis.id)):
        seen.add(analysis.id)
        events = dones.get(analysis.id, [])
        if analysis.status != "done":
            if events:
                problems.append(RecordProblem("analyses", analysis.id, f"audited as done but its status is now "
                                                                       f"{analysis.status!r}"))
            continue
        if len(events) != 1:
            problems.append(RecordProblem("analyses", analysis.id, f"done, with {len(events)} 'analysis.done' "
                                                                   "audit events instead of one",
                                          UNAUDITED if not events else DIFFERS))
            continue
        problems += [RecordProblem("analyses", analysis.id, text) for text in _verdict_differences(analysis,
                                                                                                   events[0])]
    problems += [RecordProblem("analyses", key, "was audited as done but its row is gone", GONE)
                 for key in dones if key not in seen]
    return problems


def _verdict_differences(analysis: Analysis, done: dict) -> list[str]:
    summary = analysis.summary.get("verdict", {}) if isinstance(analysis.summary, dict) else {}
    summary = summary if isinstance(summary, dict) else {}
    stored = {"verdict": (analysis.verdict, summary.get("label")),
              "fake_probability": (analysis.fake_probability, summary.get("fake_probability"))}
    differences = []
    for name, (column, saved) in stored.items():
        audited = done.get(name)
        if not _same(column, audited) or not _same(saved, audited):
            differences.append(f"{name} is {column!r} (summary: {saved!r}) but was audited as {audited!r} when the "
                               "analysis finished")
    return differences


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))
    return a == b


def _check_reports(session: Session, exports: dict[object, list[dict]]) -> list[RecordProblem]:
    problems, seen = [], set()
    reports = list(session.scalars(select(Report).order_by(Report.id)))
    newest_at_path = {r.path: r.report_uid for r in reports}  # an audited --force export replaced older files
    for report in reports:
        seen.add(report.report_uid)
        events = exports.get(report.report_uid, [])
        if not events:
            problems.append(RecordProblem("reports", report.report_uid, "has no 'report.export' audit event",
                                          UNAUDITED))
            continue
        audited = events[0]
        if (report.sha256, report.path) != (audited.get("sha256"), audited.get("path")):
            problems.append(RecordProblem("reports", report.report_uid, "SHA-256 or path differs from the "
                                                                        "'report.export' audit event"))
        if newest_at_path[report.path] == report.report_uid:
            problems += _check_report_file(report.report_uid, Path(str(audited.get("path"))), audited.get("sha256"))
    problems += [RecordProblem("reports", key, "was audited as exported but its row is gone", GONE)
                 for key in exports if key not in seen]
    return problems


def _check_report_file(uid: str, path: Path, audited_sha256: object) -> list[RecordProblem]:
    """The PDF, when it is still where it was written, must be the one exported."""
    if not path.is_file():
        return []
    try:
        now = sha256_file(path)
    except OSError:
        return []
    if now != audited_sha256:
        return [RecordProblem("reports", uid, f"the file {path} has changed since it was exported")]
    return []
