"""Audit events in words for the report: what was done, to what, and the values that matter (never raw JSON).

Each action has a sentence and the detail keys worth printing, in order; an action this table does not know is
still printed, its name turned into words and every detail given as "key: value".  The audit log itself keeps the
full record: this is only how the report reads it out.
"""
from __future__ import annotations

from dataclasses import dataclass

from dfdesk.services.report_text import AUDIT_VALUE_CHARS, clip

# action -> (words, detail keys to print in this order)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "evidence.ingest": ("Evidence taken in (probed and hashed)", ("path", "path_given", "sha256", "size_bytes")),
    "evidence.reingest": ("The same file was added again (already held)", ("path", "sha256")),
    "evidence.hash_mismatch": ("EVIDENCE HASH MISMATCH: the file differs from intake",
                               ("during", "expected", "sha256_intake", "found", "sha256_now", "path")),
    "evidence.unreadable": ("EVIDENCE UNREADABLE when it was to be re-hashed", ("during", "sha256_now")),
    "analysis.start": ("Analysis started", ("models", "resumed", "batch")),
    "analysis.done": ("Analysis finished", ("verdict", "fake_probability", "batch")),
    "analysis.failed": ("Analysis failed", ("message",)),
    "analysis.cancelled": ("Analysis cancelled", ("message",)),
    "analysis.interrupted": ("Analysis found interrupted (its process had stopped)", ("pid",)),
    "note.add": ("Analyst's note added", ("note_id", "text")),
    "verdict.analyst": ("Analyst's conclusion recorded", ("conclusion", "note_id", "text")),
    "report.export": ("Report exported", ("report_uid", "path", "sha256", "evidence_hash_ok")),
    "report.overwrite": ("An earlier report file was replaced", ("report_uid", "path", "sha256", "replaced_sha256")),
    "report.publish_resumed": ("A recorded report was put in place after an interrupted export",
                               ("report_uid", "path", "sha256")),
}
OBJECT_KEYS = (("analysis_id", "analysis"), ("report_uid", "report"), ("note_id", "note"))
VALUE_WORDS = {"real": "no manipulation detected by these models", "fake": "manipulation detected",
               True: "yes", False: "no", None: "none"}


@dataclass(frozen=True)
class AuditEntry:
    """One audit event as the report prints it."""

    words: str  # the action in words
    action: str  # the action's code, as in the log (for looking it up)
    subject: str  # what it acted on: "evidence 3, analysis 7"
    values: str  # "key: value; key: value"


def describe_event(action: str, evidence_id: int | None, details: dict) -> AuditEntry:
    words, keys = ACTIONS.get(action, (_words_of(action), ()))
    details = details if isinstance(details, dict) else {}
    shown = [k for k in keys if k in details] if action in ACTIONS else sorted(details)
    values = "; ".join(f"{k.replace('_', ' ')}: {value_text(k, details[k])}" for k in shown
                       if k != "actor_authenticated")
    return AuditEntry(words, action, _subject(evidence_id, details), values or "—")


def _words_of(action: str) -> str:
    text = action.replace(".", ": ", 1).replace("_", " ")
    return text[:1].upper() + text[1:]


def _subject(evidence_id: int | None, details: dict) -> str:
    parts = [f"evidence {evidence_id}"] if evidence_id is not None else []
    parts += [f"{name} {details[key]}" for key, name in OBJECT_KEYS if details.get(key) is not None
              and key != "report_uid"]
    return ", ".join(parts) or "—"


def value_text(key: str, value: object) -> str:
    """One detail value in words: verdict codes as the report words them, probabilities to 2 places, lists joined."""
    if isinstance(value, bool) or value is None:
        return VALUE_WORDS[value]
    if key == "verdict" and value in VALUE_WORDS:
        return VALUE_WORDS[value]
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}" if key.endswith("bytes") else str(value)
    if isinstance(value, list | tuple):
        return clip(", ".join(str(v) for v in value) or "none", AUDIT_VALUE_CHARS)
    if isinstance(value, dict):
        return clip(", ".join(f"{k} {v}" for k, v in value.items()), AUDIT_VALUE_CHARS)
    return clip(str(value), AUDIT_VALUE_CHARS)
