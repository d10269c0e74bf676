"""The parts of the report that speak to a reader first or sign it off: the executive summary on page 1, the
warnings a reader must not miss, the video streams, the processing environment, how to read a heat map, and the
examiner's attestation with a signature block.

Like :mod:`dfdesk.services.report_layout` (whose builders it uses), it only lays out a ReportContent.
"""
from __future__ import annotations

from reportlab.lib import colors
from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

from dfdesk.services.report_layout import (
    CELL_BASE,
    NOT_RECORDED,
    TEXT_WIDTH,
    VERDICT_WORDS,
    ReportContent,
    alert_box,
    chain_words,
    file_size,
    hash_verdict,
    key_values,
    local_time,
    para,
    percent,
)
from dfdesk.services.report_text import NAME_CHARS, SUMMARY_NOTE_CHARS, clip
from dfdesk.services.results import NoteView
from dfdesk.services.verdicts import fusion_rule_text, headline

EXAMINER_GIVEN, EXAMINER_CASE, EXAMINER_ACTOR = "given", "case", "actor"
EXAMINER_SOURCES = {EXAMINER_GIVEN: "named for this report",
                    EXAMINER_CASE: "the examiner recorded for the case",
                    EXAMINER_ACTOR: "no examiner was named or recorded for the case: the person who exported it"}
CONCLUSION_WORDS = {"agree": "agrees with the automatic verdict", "disagree": "disagrees with the automatic verdict",
                    "inconclusive": "finds the question inconclusive"}
SUMMARY_GREY = colors.HexColor("#F3F5F8")


# --- page 1 ----------------------------------------------------------------------------------------

def executive_summary(content: ReportContent) -> list:
    """Evidence, hash check, the finding in words with its fusion rule, the analyst's conclusion, the examiner."""
    e, check = content.analysis.evidence, content.hash_check
    rows = [("Evidence", clip(e.file_name, NAME_CHARS)), ("SHA-256 at intake", para(check.intake, "mono")),
            ("Size", file_size(e.video.size_bytes)), ("Hash check at export", hash_verdict(check)),
            *finding_rows(content), *conclusion_rows(content.analysis.notes),
            ("Examiner", examiner_words(content))]
    if content.trust is not None:
        rows.append(("Audit log", chain_words(content.trust)))
    table = key_values(rows)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), SUMMARY_GREY)]))
    return [para("Executive summary", "h1"), table, Spacer(1, 6), *warnings(content)]


def finding_rows(content: ReportContent) -> list[tuple[str, object]]:
    """The verdict sentence, its strength, why, and the fusion rule it came from."""
    analysis, verdict = content.analysis, content.analysis.verdict
    if verdict is None:
        return [("Finding", "no verdict was recorded for this analysis")]
    shown, meaning = VERDICT_WORDS.get(verdict.label, (headline(verdict.label), ""))
    rows: list[tuple[str, object]] = [("Finding", para(f"{shown}. {meaning}".strip(), "verdict"))]
    if verdict.evidence is not None:
        rows.append(("Strength", verdict.evidence.summary()))
    elif verdict.fake_probability is not None:
        band = f", uncertainty band {verdict.band[0]:.2f} to {verdict.band[1]:.2f}" if verdict.band else ""
        rows.append(("Fused P(fake)", f"{percent(verdict.fake_probability)}{band}"))
    validation = verdict.evidence.validation_videos if verdict.evidence is not None else 0
    rows += [("Why", verdict.explanation),
             ("Fusion rule", fusion_rule_text(analysis.settings.get("fusion"), verdict.fusion, validation))]
    return rows


def conclusion_rows(notes: tuple[NoteView, ...]) -> list[tuple[str, object]]:
    """The analyst's latest conclusion and latest note (each only once when they are the same note)."""
    concluded = [n for n in notes if n.conclusion]
    rows: list[tuple[str, object]] = []
    if concluded:
        last = concluded[-1]
        words = CONCLUSION_WORDS.get(last.conclusion, last.conclusion)
        rows.append(("Analyst's conclusion", f"{clip(last.author, NAME_CHARS)} {words} "
                                             f"({local_time(last.created_at)})."))
    else:
        rows.append(("Analyst's conclusion", "none recorded"))
    written = [n for n in notes if n.text]
    if written:
        more = f" ({len(notes)} notes in all: section 4)" if len(notes) > 1 else ""
        rows.append(("Analyst's note", clip(written[-1].text, SUMMARY_NOTE_CHARS) + more))
    return rows


def examiner_words(content: ReportContent) -> str:
    name = clip(content.examiner, NAME_CHARS)
    source = EXAMINER_SOURCES.get(content.examiner_source)
    return f"{name} ({source})" if source else name


def warnings(content: ReportContent) -> list:
    """The warnings a reader of page 1 must see: models trained on this very file, an ensemble fitted on it, more
    than one video stream."""
    parts = []
    verdict = content.analysis.verdict
    if verdict is not None and verdict.evidence is not None and verdict.evidence.in_validation:
        parts += alert_box("FITTED ON THIS EVIDENCE: this very file is one of the videos the ensemble was validated "
                           "and fitted on, so its likelihood ratio is not an out-of-sample result.")
    if content.trained_on_evidence:
        parts += alert_box(f"TRAINED ON THIS EVIDENCE: the training data of {', '.join(content.trained_on_evidence)} "
                           "included this very file (same SHA-256). Its score on this evidence is not an independent "
                           "test and may be overconfident.")
    if len(content.video_streams) > 1:
        parts += alert_box(streams_warning(content))
    return parts


def streams_warning(content: ReportContent) -> str:
    analysed = "stream " + str(content.stream_index) if content.stream_index is not None else "one stream"
    return (f"THE FILE HAS {len(content.video_streams)} VIDEO STREAMS; only {analysed} was analysed. A player may "
            "show another stream than the one analysed: check the other streams too (dfdesk analyze --stream N).")


# --- evidence: the video streams -------------------------------------------------------------------

def streams_block(content: ReportContent) -> list:
    """Every video stream of the file, when it has more than one (the analysed one marked)."""
    if len(content.video_streams) <= 1:
        return []
    lines = [stream_line(s, content.stream_index) for s in content.video_streams]
    return [para("Video streams", "h2"), para(streams_warning(content), "alert"),
            *[para(f"• {line}") for line in lines]]


def stream_line(stream: dict, analysed: int | None) -> str:
    index = stream.get("index")
    size = f"{stream.get('width', '?')} x {stream.get('height', '?')}"
    marks = [m for m, on in (("container default", stream.get("default")), ("ANALYSED", index == analysed)) if on]
    return (f"stream {index}: {stream.get('codec', NOT_RECORDED)}, {size} pixels, {stream.get('frames', '?')} frames"
            + (f" ({', '.join(marks)})" if marks else ""))


# --- method: the processing environment -------------------------------------------------------------

def environment_block(content: ReportContent) -> list:
    env = content.environment
    if env is None:
        return []
    return [para("Processing environment", "h2"), para(f"Facts {env.when}.", "intro_small"),
            key_values(list(env.rows))]


# --- results: how to read a heat map ----------------------------------------------------------------

HEAT_MAP_NOTE = (
    "A heat map (Grad-CAM) colours the parts of the face whose pixels most raised this model's score on this frame: "
    "it shows where the model's evidence lies, not what was manipulated, and it is not proof on its own. Warm areas "
    "are where the model looked, in its own terms; a manipulation it did not detect leaves no trace there, and a "
    "warm area on an untouched face is possible. The map is computed at the resolution of the network's last "
    "convolutional stage (a few cells across the face) and then enlarged, so its edges are coarse and it cannot "
    "point at single pixels. It explains one model on one frame and one face crop; other models and other frames "
    "may look elsewhere. Compare it with the face crop beside it and with the timeline before relying on it.")


def heat_map_note() -> list:
    return [para("How to read a heat map", "h2"), para(HEAT_MAP_NOTE)]


# --- the examiner's attestation ---------------------------------------------------------------------

ATTESTATION = (
    "I examined the evidence named in this report with the software and models described in it. The results "
    "were produced by that software; the conclusion and notes are mine where they are attributed to me. To the "
    "best of my knowledge the facts stated here are true and the report is complete: nothing that would change "
    "its reading has been left out. I understand that the automatic verdict states only what these models found on "
    "the frames and faces examined; it does not establish that the video is unaltered.")


def attestation_section(content: ReportContent) -> list:
    """The examiner's statement and a block to fill in and sign by hand (the PDF's digital signature names the
    installation, not a person)."""
    fill_in = [("Role and organisation", ""), ("Place", ""), ("Date of signing", ""), ("Signature", "")]
    rows = [[para("Examiner", "small"), para(clip(content.examiner, NAME_CHARS))],
            [para("Report date", "small"), para(local_time(content.created_at))],
            *[[para(label, "small"), Spacer(1, 26)] for label, _ in fill_in]]
    block = Table(rows, colWidths=[110, TEXT_WIDTH - 110])
    block.setStyle(TableStyle([*CELL_BASE, ("LINEBELOW", (1, 2), (1, -1), 0.8, colors.black),
                               ("VALIGN", (0, 2), (0, -1), "BOTTOM")]))  # each label beside its line
    return [KeepTogether([para("8. Examiner's attestation", "h1"), para(ATTESTATION), Spacer(1, 8), block])]
