"""The analyst's own findings: notes and a conclusion on an analysis (agree / disagree / inconclusive).

The text is checked by :func:`dfdesk.services.text_limits.check_text`: a plain note up to ``NOTE`` characters, the
reason given with a conclusion up to ``CONCLUSION_REASON``; newlines and tabs are kept, other control characters
and bidirectional overrides are refused (they would print as something other than what was stored)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from dfdesk.services import audit, text_limits
from dfdesk.store.tables import Analysis, Evidence, Note

CONCLUSIONS = ("agree", "disagree", "inconclusive")


class NoteError(Exception):
    """A note that cannot be saved (unknown evidence, bad conclusion, empty note)."""


def add_note(session: Session, evidence_id: int, author: str, text: str = "", conclusion: str | None = None,
             analysis_id: int | None = None) -> Note:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NoteError(f"no evidence with id {evidence_id}")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise NoteError(f"conclusion must be one of {', '.join(CONCLUSIONS)}")
    text = _checked_text(text, conclusion)
    if not text and conclusion is None:
        raise NoteError("an empty note without a conclusion is not saved")
    if analysis_id is not None and session.get(Analysis, analysis_id) is None:
        raise NoteError(f"no analysis with id {analysis_id}")
    note = Note(case_id=evidence.case_id, evidence_id=evidence_id, analysis_id=analysis_id, author=author,
                text=text, conclusion=conclusion)
    session.add(note)
    session.flush()
    audit.record(session, author, "note.add" if conclusion is None else "verdict.analyst", case_id=evidence.case_id,
                 evidence_id=evidence_id, analysis_id=analysis_id, note_id=note.id, conclusion=conclusion,
                 text=note.text)
    return note


def _checked_text(text: str, conclusion: str | None) -> str:
    field, limit = (("note", text_limits.NOTE) if conclusion is None
                    else ("reason for the conclusion", text_limits.CONCLUSION_REASON))
    try:
        return text_limits.check_text(field, text, limit, multiline=True)
    except ValueError as exc:
        raise NoteError(str(exc)) from None
