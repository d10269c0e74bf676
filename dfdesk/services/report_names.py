"""The file name a report is offered under: case number, evidence name and date, safe on every file system."""
from __future__ import annotations

import re
import unicodedata
from datetime import date

from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis

CASE_PART_CHARS = 40
EVIDENCE_PART_CHARS = 60
UNSAFE = re.compile(r"[^\w.-]+")  # \w keeps letters and digits of every script; the rest becomes "_"
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def suggested_report_name(case_number: str | None, evidence_name: str, day: date) -> str:
    """E.g. ``LAB-2024_117-clip_004-2025-03-01-report.pdf``: the case number (when there is one), the evidence
    file's stem and the date, each reduced to letters, digits, ``.``, ``-`` and ``_``, and kept short."""
    stem = evidence_name.rsplit(".", 1)[0] if "." in evidence_name.strip(".") else evidence_name
    parts = [_safe(case_number or "", CASE_PART_CHARS), _safe(stem, EVIDENCE_PART_CHARS), day.isoformat(), "report"]
    return "-".join(p for p in parts if p) + ".pdf"


def _safe(text: str, limit: int) -> str:
    cleaned = UNSAFE.sub("_", unicodedata.normalize("NFKC", text)).strip("._-")[:limit].strip("._-")
    return f"_{cleaned}" if cleaned.lower() in WINDOWS_RESERVED else cleaned


def suggested_name_for(db: Database, analysis_id: int, day: date | None = None) -> str:
    """The suggested file name of ``analysis_id``'s report (``analysis-ID.pdf`` when the analysis is unknown)."""
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            return f"analysis-{analysis_id}.pdf"
        evidence = analysis.evidence
        return suggested_report_name(evidence.case.number, evidence.file_name, day or date.today())
