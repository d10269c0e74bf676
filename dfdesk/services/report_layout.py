"""The PDF report's layout: what each section shows, the page header and footer, the embedded fonts.

Everything here turns a :class:`ReportContent` (plain data gathered by ``report.py``) into reportlab
flowables; nothing reads the database or the evidence file.  Text from the case (names, paths,
notes) is XML-escaped before it reaches a Paragraph.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer, Table, TableStyle

from dfdesk import paths
from dfdesk.core.fusion import VerdictRule
from dfdesk.core.likelihood import DECISION_LOG10_LR, format_lr
from dfdesk.core.outcome import DETECTOR_NEEDS_TRAINING, DETECTOR_USED
from dfdesk.services.report_charts import TimelineSpec, timeline_drawing
from dfdesk.services.report_environment import EnvironmentFacts
from dfdesk.services.report_text import NAME_CHARS, NOTE_CHARS, PATH_CHARS, clip
from dfdesk.services.results import AnalysisView
from dfdesk.services.verdicts import decision_text, ensemble_text, fell_back, fusion_rule_text, headline

SANS, BOLD, MONO = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSansMono"
# Fonts for the characters DejaVu lacks, tried in order: Chinese and Japanese, then Korean (Hangul)
FALLBACKS = ("DroidSansFallback", "NanumGothic")
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_WIDTH = 120
ALERT_RED = colors.HexColor("#B00000")
RULE_GREY = colors.HexColor("#B8B8B8")
NOT_RECORDED = "not recorded"


# --- what the layout is given --------------------------------------------------------------------

@dataclass(frozen=True)
class HashCheck:
    intake: str
    now: str  # the digest computed at export, or why the file could not be read
    ok: bool

    @property
    def readable(self) -> bool:
        return len(self.now) == 64


@dataclass(frozen=True)
class ModelFacts:
    name: str
    version: str
    architecture: str
    status: str
    note: str
    threshold: float | None
    fake_probability: float | None
    weights_sha256: str
    training_data: str
    metrics: str
    calibration: str
    licence: str
    origin: str  # where the training data / metrics / calibration came from


@dataclass(frozen=True)
class KeyFrame:
    detector: str
    track_index: int
    frame_index: int
    time_s: float
    fake_probability: float
    crop_png: bytes | None
    heatmap_png: bytes | None
    remark: str = ""
    pts: int | None = None  # presentation timestamp of the decoded pixels the crop was cut from
    pixel_check: str = ""  # how those pixels were checked against what the analysis scored
    still_jpeg: bytes | None = None  # the whole decoded frame, scaled down, the face box drawn (report_still.py)


@dataclass(frozen=True)
class AuditLine:
    """One audit event in words (see report_audit_words.py)."""

    at: datetime
    actor: str
    words: str  # the action in words
    action: str  # its code in the log
    subject: str  # what it acted on
    values: str  # the key values, "key: value; …"


@dataclass(frozen=True)
class ReportContent:
    report_uid: str
    created_at: datetime  # time-zone aware
    examiner: str
    dfdesk_version: str
    analysis: AnalysisView
    hash_check: HashCheck
    models: tuple[ModelFacts, ...]
    key_frames: tuple[KeyFrame, ...]
    audit: tuple[AuditLine, ...]
    trust: TrustFacts | None = None  # the records section; None leaves it out
    examiner_source: str = ""  # where the examiner's name came from (EXAMINER_SOURCES), "" when not said
    environment: EnvironmentFacts | None = None  # the processing environment; None leaves it out
    trained_on_evidence: tuple[str, ...] = ()  # installed models whose training data included this evidence
    video_streams: tuple[dict, ...] = ()  # every video stream of the file, as the analysis recorded them
    stream_index: int | None = None  # the stream analysed, when recorded


@dataclass(frozen=True)
class TrustFacts:
    """The audit log's head when the report was made, who made it, and the PDF signature's certificate."""

    audit_count: int
    audit_hash: str
    audit_signer: str  # fingerprint of the installation key that signed the head
    audit_signature: str
    chain_problems: int  # what `dfdesk audit verify` found in the log at export
    exporter: str
    exporter_authenticated: bool | None  # None: the database has no profiles (single-user)
    certificate_sha256: str
    unaudited: tuple[str, ...] = ()  # records of this analysis that no audit event describes
    chain_findings: tuple[str, ...] = ()  # what `dfdesk audit verify` found, one line per problem (the first few)


# --- fonts, styles, small builders ---------------------------------------------------------------

@lru_cache(maxsize=1)
def register_fonts() -> None:
    """Embed DejaVu (Latin, Greek, Cyrillic and more) and Droid Sans Fallback (CJK) so any case name prints."""
    for name, file in ((SANS, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf"), (MONO, "DejaVuSansMono.ttf"),
                       (FALLBACKS[0], "DroidSansFallbackFull.ttf"), (FALLBACKS[1], "NanumGothic.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(paths.resource("fonts", file))))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=BOLD, italic=SANS, boldItalic=BOLD)
    for name in FALLBACKS:  # no bold faces: bold CJK text is set in the regular face
        pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)


@lru_cache(maxsize=8)
def _characters(font: str) -> frozenset[int]:
    register_fonts()
    return frozenset(pdfmetrics.getFont(font).face.charToGlyph)


def font_runs(text: str, font: str = SANS) -> list[tuple[str, str]]:
    """``text`` cut into (font name, run) pieces: ``font`` where it has the glyph, else the first fallback that has.

    A character no font has stays in ``font`` (printed as its missing-glyph box).
    """
    runs: list[tuple[str, str]] = []
    for char in text:
        name = next((f for f in (font, *FALLBACKS) if ord(char) in _characters(f)), font)
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + char)
        else:
            runs.append((name, char))
    return runs


def plain(text: str) -> str:
    """Paragraph markup for plain text: escaped, the characters DejaVu lacks set in a fallback font."""
    return "".join(escape(run) if name == SANS else f'<font face="{name}">{escape(run)}</font>'
                   for name, run in font_runs(text))


STYLES = {
    "body": ParagraphStyle("body", fontName=SANS, fontSize=8.5, leading=11.5),
    "small": ParagraphStyle("small", fontName=SANS, fontSize=7, leading=9),
    "mono": ParagraphStyle("mono", fontName=MONO, fontSize=7.5, leading=10),
    "title": ParagraphStyle("title", fontName=BOLD, fontSize=17, leading=22, spaceAfter=6),
    "h1": ParagraphStyle("h1", fontName=BOLD, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=5,
                         textColor=colors.HexColor("#1F3A5F"), keepWithNext=1),
    "h2": ParagraphStyle("h2", fontName=BOLD, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=3,
                         keepWithNext=1),  # a heading never ends a page
    "intro": ParagraphStyle("intro", fontName=SANS, fontSize=8.5, leading=11.5, keepWithNext=1),
    "intro_small": ParagraphStyle("intro_small", fontName=SANS, fontSize=7, leading=9, keepWithNext=1),
    "verdict": ParagraphStyle("verdict", fontName=BOLD, fontSize=11, leading=15, spaceAfter=4),
    "alert": ParagraphStyle("alert", fontName=BOLD, fontSize=10, leading=13.5, textColor=ALERT_RED),
    "audit": ParagraphStyle("audit", fontName=SANS, fontSize=6.5, leading=8.5),
}


# Tables set their cells' font even when every cell is a flowable: name ours, or Helvetica (not
# embedded) gets listed in the PDF.
CELL_BASE = [("FONTNAME", (0, 0), (-1, -1), SANS), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]


def para(text: str, style: str = "body") -> Paragraph:
    """A paragraph of plain (escaped) text."""
    return Paragraph(plain(text), STYLES[style])


def markup(text: str, style: str = "body") -> Paragraph:
    """A paragraph whose text is already reportlab markup (callers escape what they insert)."""
    return Paragraph(text, STYLES[style])


def key_values(rows: list[tuple[str, object]]) -> Table:
    """A two-column label / value table; values may be strings or flowables."""
    cells = [[para(label, "small"), value if not isinstance(value, str) else para(value)] for label, value in rows]
    table = Table(cells, colWidths=[LABEL_WIDTH, TEXT_WIDTH - LABEL_WIDTH])
    table.setStyle(TableStyle([*CELL_BASE, ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE_GREY)]))
    return table


def grid(header: list[str], rows: list[list], widths: list[float], font_size: float = 7.5) -> Table:
    style = ParagraphStyle("cell", fontName=SANS, fontSize=font_size, leading=font_size + 2.5)
    head = [Paragraph(f"<b>{plain(h)}</b>", style) for h in header]
    body = [[c if not isinstance(c, str) else Paragraph(plain(c), style) for c in row] for row in rows]
    table = Table([head, *body], colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([*CELL_BASE, ("GRID", (0, 0), (-1, -1), 0.25, RULE_GREY),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EDF3")),
                               ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)]))
    return table


def local_time(moment: datetime) -> str:
    """Date and time in the examiner's time zone, with the zone named and its offset from UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    local = aware.astimezone()
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} (UTC{offset[:3]}:{offset[3:]})"


def percent(probability: float | None) -> str:
    return "—" if probability is None else f"{probability:.2f} ({probability * 100:.0f} %)"


def file_size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size:,} bytes ({size / scale:.1f} {unit})"
    return f"{size:,} bytes"


# --- 1. title block ------------------------------------------------------------------------------

def title_block(content: ReportContent) -> list:
    """The report's particulars (after the executive summary on page 1)."""
    evidence = content.analysis.evidence
    rows = [("Case name", clip(evidence.case_name, NAME_CHARS)),
            ("Case number", clip(evidence.case_number, NAME_CHARS) if evidence.case_number else NOT_RECORDED),
            ("Evidence", clip(evidence.file_name, NAME_CHARS)), ("Examiner", clip(content.examiner, NAME_CHARS)),
            ("Report date", local_time(content.created_at)), ("dfdesk version", content.dfdesk_version),
            ("Report ID", para(content.report_uid, "mono")),
            ("Analysis", f"#{content.analysis.id}, run {local_time(content.analysis.created_at)} "
                         f"by {clip(content.analysis.created_by, NAME_CHARS)}")]
    return [para("Report particulars", "h1"), key_values(rows), Spacer(1, 6)]


def integrity_alert(check: HashCheck) -> list:
    if check.ok:
        return []
    what = ("the file's SHA-256 now DIFFERS from the one recorded at intake: the evidence has been altered or "
            "replaced since it was ingested" if check.readable else
            f"the evidence file could not be re-hashed ({check.now})")
    text = (f"EVIDENCE INTEGRITY FAILURE: {what}. The results below were computed on the file as ingested and "
            "cannot be attributed to the file now on disk. This failure is recorded in the audit log.")
    return alert_box(text)


def alert_box(text: str) -> list:
    """A red-framed warning the width of the page (and a little space after it)."""
    box = Table([[para(text, "alert")]], colWidths=[TEXT_WIDTH])
    box.setStyle(TableStyle([*CELL_BASE, ("BOX", (0, 0), (-1, -1), 1.5, ALERT_RED),
                             ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#FDECEC")),
                             ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return [box, Spacer(1, 6)]


# --- 2. evidence ---------------------------------------------------------------------------------

def evidence_section(content: ReportContent) -> list:
    e, v, check = content.analysis.evidence, content.analysis.evidence.video, content.hash_check
    rate = f"{v.fps:.3f} fps" + (" (variable frame rate)" if v.is_vfr else "")
    rows = [("File name", clip(e.file_name, NAME_CHARS)), ("Path", clip(e.path, PATH_CHARS)),
            ("Size", file_size(v.size_bytes)),
            ("SHA-256 at intake", para(check.intake, "mono")),
            ("SHA-256 at export", para(check.now, "mono" if check.readable else "body")),
            ("Comparison", hash_verdict(check)), ("Container", v.container), ("Codec", v.codec),
            ("Pixel format", f"{v.pixel_format or 'not recorded'} ({v.bit_depth} bit)"),
            ("Resolution", f"{v.width} x {v.height} pixels (as displayed)"), ("Frame rate", rate),
            ("Frame count", f"{v.frame_count:,}"), ("Duration", f"{v.duration_s:.3f} s"),
            ("Rotation", f"{v.rotation}° clockwise to display upright"),
            ("Audio present", "yes" if v.has_audio else "no"),
            ("Ingested", f"{local_time(e.ingested_at)} by {clip(e.ingested_by, NAME_CHARS)}")]
    return [para("1. Evidence", "h1"), key_values(rows)]


def hash_verdict(check: HashCheck) -> Paragraph:
    if check.ok:
        return para("MATCH: the file is bit-for-bit the one ingested.")
    if check.readable:
        return para("MISMATCH: the file has changed since intake.", "alert")
    return para("NOT VERIFIED: the file could not be read.", "alert")


# --- 3. method -----------------------------------------------------------------------------------

SETTING_LABELS = {"sampling": "Sampling mode", "frames": "Frames requested"}
FACE_SETTING_KEYS = ("faces", "face", "face_detection", "face_settings")


def method_section(content: ReportContent) -> list:
    a = content.analysis
    settings = dict(a.settings)
    face = next((settings.pop(k) for k in FACE_SETTING_KEYS if k in settings), None)
    rows = [("Sampling mode", str(settings.pop("sampling", NOT_RECORDED))),
            ("Frames", f"{settings.pop('frames', NOT_RECORDED)} requested, {a.frames_sampled} sampled, "
                       f"{a.frames_with_face} with a face"),
            ("Seed", str(a.seed)), ("Face detection", describe_mapping(face) if face else NOT_RECORDED)]
    plans = settings.pop("plans", {})
    settings.pop("worker", None)  # which process ran it: bookkeeping, not method
    rows += [(f"Frames scored by {name}", plan_words(plan)) for name, plan in sorted(plans.items())]
    rows += [(f"Setting: {key}", describe_value(value)) for key, value in sorted(settings.items())]
    parts = [para("2. Method", "h1"), key_values(rows), para("Models", "h2")]
    scored = [m for m in content.models if m.status != DETECTOR_NEEDS_TRAINING]
    untrained = [m.name for m in content.models if m.status == DETECTOR_NEEDS_TRAINING]
    parts += [KeepTogether([model_card_table(m), Spacer(1, 5)]) for m in scored]
    if untrained:
        parts.append(para("Installed architectures without trained weights, excluded from the verdict: "
                          + ", ".join(untrained) + "."))
    parts += [para("Fusion rule", "h2"), para(fusion_text(a))]
    return parts


def plan_words(plan: dict) -> str:
    clips = plan.get("clips", [])
    grouping = f" in {len(clips)} clip(s) of {len(clips[0])}" if clips and len(clips[0]) > 1 else ""
    return (f"{plan.get('mode', NOT_RECORDED)} sampling, {len(plan.get('indices', []))} frames{grouping}, "
            f"seed {plan.get('seed', NOT_RECORDED)}")


def describe_mapping(mapping: dict) -> str:
    return "; ".join(f"{k} = {describe_value(v)}" for k, v in mapping.items()) or NOT_RECORDED


def describe_value(value: object) -> str:
    if isinstance(value, dict):
        return describe_mapping(value)
    if isinstance(value, list | tuple):
        return ", ".join(describe_value(v) for v in value)
    return str(value)


def model_card_table(model: ModelFacts) -> Table:
    threshold = NOT_RECORDED if model.threshold is None else f"{model.threshold:.3f}"
    rows = [("Model", f"{model.name} (status: {status_words(model.status)})"), ("Version", model.version),
            ("Architecture", model.architecture), ("Training data", model.training_data),
            ("Weights SHA-256", para(model.weights_sha256, "mono") if model.weights_sha256 else NOT_RECORDED),
            ("Validation metrics", model.metrics), ("Decision threshold", threshold),
            ("Calibration", model.calibration), ("Licence", model.licence), ("Facts from", model.origin)]
    return key_values(rows)


def fusion_text(analysis: AnalysisView) -> str:
    """The fusion paragraph: the rule asked for and the one applied, then how the verdict follows from it, every
    part in the words and with the numbers of the code that applies it (``verdicts.fusion_rule_text``,
    ``ensemble_text`` and ``decision_text``; the thresholds are the ones saved with the verdict)."""
    verdict = analysis.verdict
    if verdict is None:
        return NOT_RECORDED
    requested = analysis.settings.get("fusion")
    if verdict.evidence is not None:
        rule = fusion_rule_text(requested, verdict.fusion, verdict.evidence.validation_videos)
        return (f"Rule: {rule}: {ensemble_text(verdict.evidence.members)}. "
                f"Verdict: {decision_text(with_lr=True)}.")
    rule = f"Rule: {fusion_rule_text(requested, verdict.fusion)}."
    excluded = ("Models that need training, failed or had no input are excluded; no likelihood ratio, as no "
                "ensemble fitted on validation videos was used.")
    if fell_back(requested, verdict.fusion):
        return f"{rule} {excluded} Verdict: inconclusive whatever the fused score."
    saved = VerdictRule(VerdictRule().decision, verdict.fake_threshold, verdict.real_threshold)
    return f"{rule} {excluded} Verdict: {decision_text(with_lr=False, rule=saved)}."


STATUS_WORDS = {DETECTOR_USED: "used", DETECTOR_NEEDS_TRAINING: "excluded: needs training",
                "failed": "excluded: failed", "no_input": "excluded: no usable input"}


EXCLUSION_REASONS = {DETECTOR_NEEDS_TRAINING: "because it needs training", "failed": "because it failed",
                     "no_input": "because it had no usable input", "not run": "because it was not run"}


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


# --- 4. results ----------------------------------------------------------------------------------

VERDICT_WORDS = {  # the verdict as the report states it, then what it means ("real" is a value for scripts only)
    "fake": ("fake (manipulation detected)", "The models find signs that this video was manipulated."),
    "real": ("no manipulation detected by these models", "This covers only the manipulation methods they were "
             "validated on, at the detection rates stated under Limitations; it does not establish that the video "
             "is unaltered."),
    "inconclusive": ("inconclusive", "The models cannot tell whether this video was manipulated."),
    "no_face": ("no face found", "No face was found in the sampled frames, so no model could score the video."),
}
LR_WORDS = format_lr(10 ** DECISION_LOG10_LR)


def results_section(content: ReportContent) -> list:
    return [para("3. Results", "h1"), *verdict_block(content.analysis), para("Per-model results", "h2"),
            model_results_table(content.models), *timeline_block(content.analysis), *track_block(content.analysis),
            *key_frame_block(content)]


def verdict_block(analysis: AnalysisView) -> list:
    verdict = analysis.verdict
    if verdict is None:
        return [para("No verdict was recorded for this analysis.", "verdict")]
    shown, meaning = VERDICT_WORDS.get(verdict.label, (headline(verdict.label), ""))
    parts = [para(f"Verdict: {shown}", "verdict"), para(meaning)]
    parts += evidence_block(verdict)
    if verdict.evidence is None or verdict.evidence.carries_evidence:  # without members, P(fake) is 0.5 always
        parts += probability_block(verdict)
    parts += [para(f"Why: {verdict.explanation}"), para(f"Agreement between models: {verdict.agreement}")]
    parts += [para(f"Warning: {w}") for w in analysis.warnings]
    return parts


def probability_block(verdict) -> list:
    """The fused P(fake) and its uncertainty band, placed against the verdict thresholds."""
    parts = []
    if verdict.fake_probability is not None:
        odds = " at even prior odds" if verdict.evidence is not None else ""
        parts.append(para(f"Fused probability that the video is fake{odds}, P(fake) = "
                          f"{percent(verdict.fake_probability)}."))
    if verdict.band:
        low, high = verdict.band
        parts.append(para(f"Uncertainty band: {low:.2f} to {high:.2f}, i.e. the probability of manipulation is "
                          f"estimated between {low * 100:.0f} % and {high * 100:.0f} %. "
                          f"{band_position(low, high, verdict.fake_threshold, verdict.real_threshold)}"))
    return parts


def evidence_block(verdict) -> list:
    """The likelihood ratio, its bounds, its verbal equivalent and the validation set's size."""
    evidence = verdict.evidence
    if evidence is None:
        return [para("Evidence strength: no likelihood ratio (no ensemble fitted on validation videos was used).")]
    low, high = evidence.lr_bounds
    bound = " It reached a bound and was clipped there." if evidence.at_bound else ""
    reals = evidence.validation_videos - evidence.validation_fakes
    return [key_values([
        ("Likelihood ratio", f"LR = {format_lr(evidence.likelihood_ratio)} (log10 LR = {evidence.log10_lr:+.2f}): "
                             "how much more probable these scores are if the face was manipulated than if it was "
                             f"not.{bound}"),
        ("Bounds", f"{format_lr(low)} to {format_lr(high)}: the largest support either way that the validation "
                   "videos can justify (empirical lower and upper bounds, ELUB)."),
        ("Verbal scale (ENFSI 2015)", evidence.verbal),
        ("Validation set", f"{evidence.validation_videos} labelled videos ({evidence.validation_fakes} manipulated, "
                           f"{reals} not), each original left out together with its fakes."),
    ]), Spacer(1, 4)]  # a validation video is said among the analysis's warnings, which follow


def band_position(low: float, high: float, fake_threshold: float, real_threshold: float) -> str:
    if low >= fake_threshold:
        return f"The whole band lies above the upper threshold ({fake_threshold:.2f})."
    if high <= real_threshold:
        return f"The whole band lies below the lower threshold ({real_threshold:.2f})."
    return (f"The band overlaps the undecided zone between {real_threshold:.2f} and {fake_threshold:.2f}, "
            "so no firm call can be made.")


def model_results_table(models: tuple[ModelFacts, ...]) -> Table:
    rows = []
    for m in models:
        used = m.status == DETECTOR_USED and m.fake_probability is not None
        threshold = "—" if m.threshold is None else f"{m.threshold:.2f}"
        reading = ("flags" if m.fake_probability >= m.threshold else "does not flag") if used and m.threshold \
            is not None else "—"
        rows.append([m.name, m.version, status_words(m.status), threshold,
                     percent(m.fake_probability) if used else "— (no score)", reading, m.note])
    return grid(["Model", "Version", "Status", "Threshold", "P(fake)", "Reading", "Note"], rows,
                [88, 44, 80, 50, 60, 46, TEXT_WIDTH - 368])


def timeline_block(analysis: AnalysisView) -> list:
    main = next((t.track_index for t in analysis.tracks if t.is_main), 0)
    series = {name: [p for p in points if p.track_index == main] for name, points in analysis.points.items()}
    series = {name: points for name, points in series.items() if points}
    if not series:
        return [para("Timeline", "h2"), para("No per-frame scores were recorded.")]
    verdict = analysis.verdict
    spec = TimelineSpec(series, analysis.evidence.video.duration_s or max(p.time_s for s in series.values() for p in s),
                        verdict.fake_threshold if verdict else 0.5, verdict.real_threshold if verdict else 0.5, main)
    fused = "fused calibrated score (the bounded LR at even prior odds)" if verdict and verdict.evidence else \
        "fused score"
    caption = (f"P(fake) per sampled frame of face track {main} (the main face) for every model and the {fused}; "
               "breaks in a line are frames without that face.")
    return [para("Timeline", "h2"), timeline_drawing(spec, TEXT_WIDTH, 190, SANS), para(caption, "small")]


def track_block(analysis: AnalysisView) -> list:
    if not analysis.tracks:
        return [para("Face tracks", "h2"), para("No face track was found.")]
    fps = analysis.evidence.video.fps or 1.0
    rows = []
    for track in analysis.tracks:
        per_model = "; ".join(f"{d.name} {d.track_probabilities[track.track_index]:.2f}" for d in analysis.detectors
                              if track.track_index in d.track_probabilities)
        first, last = min(track.frame_indices), max(track.frame_indices)
        presence = analysis.face_presence.get(track.track_index)
        share = (f"{presence.with_face}/{presence.sampled} ({round(100 * presence.share)} %)" if presence
                 else str(len(track.frame_indices)))
        rows.append([str(track.track_index), "yes" if track.is_main else "no", share,
                     f"frames {first}–{last} ({first / fps:.2f}–{last / fps:.2f} s)",
                     percent(track.fake_probability), per_model or "—"])
    return [para("Face tracks", "h2"),
            grid(["Track", "Main", "Face in sampled", "Span", "Fused P(fake)", "Per model P(fake)"], rows,
                 [34, 34, 62, 125, 70, TEXT_WIDTH - 325])]


def key_frame_block(content: ReportContent) -> list:
    if not content.key_frames:
        return [para("Key frames", "h2"), para("No key frames or heat maps were recorded.")]
    rows = [[key_frame_caption(k), picture(k.still_jpeg, "full frame unavailable", STILL_WIDTH, STILL_HEIGHT),
             picture(k.crop_png, "face crop unavailable", FACE_SIDE),
             picture(k.heatmap_png, "no heat map", FACE_SIDE)] for k in content.key_frames]
    intro = ("The frames with the highest scores: the whole frame as decoded from the evidence with the scored face "
             "outlined in red, the face as cut from that frame, and the model's heat map of where it saw signs of "
             "manipulation (see 'How to read a heat map').")
    widths = [TEXT_WIDTH - STILL_WIDTH - 2 * FACE_SIDE - 18, STILL_WIDTH + 6, FACE_SIDE + 6, FACE_SIDE + 6]
    return [para("Key frames", "h2"), para(intro, "intro"),
            grid(["Frame", "Full frame, face box (evidence)", "Face crop", "Heat map"], rows, widths)]


STILL_WIDTH, STILL_HEIGHT, FACE_SIDE = 200.0, 150.0, 96.0  # points: the key frames' pictures


def key_frame_caption(frame: KeyFrame) -> Paragraph:
    lines = [f"frame {frame.frame_index} at {frame.time_s:.2f} s", f"face track {frame.track_index}",
             f"model {frame.detector}", f"P(fake) {frame.fake_probability:.2f}"]
    if frame.pts is not None:
        lines.append(f"decoded pts {frame.pts}")
    if frame.pixel_check:
        lines.append(frame.pixel_check)
    if frame.remark:
        lines.append(frame.remark)
    return markup("<br/>".join(plain(line) for line in lines), "small")


def picture(data: bytes | None, missing: str, width_max: float = 128, height_max: float | None = None) -> object:
    """An embedded PNG or JPEG scaled to fit ``width_max`` x ``height_max`` points (a square when no height)."""
    if data is None:
        return para(missing, "small")
    width, height = ImageReader(io.BytesIO(data)).getSize()
    scale = min(width_max / width, (height_max or width_max) / height)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale)


# --- 5. conclusion, limitations, audit trail -----------------------------------------------------

def conclusion_section(content: ReportContent) -> list:
    parts = [para("4. Analyst's conclusion and notes", "h1")]
    if not content.analysis.notes:
        return [*parts, para("The analyst recorded no conclusion and no notes for this evidence.")]
    for note in content.analysis.notes:
        head = f"{local_time(note.created_at)}, {clip(note.author, NAME_CHARS)}"
        if note.conclusion:
            head += f" — conclusion: {note.conclusion} (with the automatic verdict)"
        parts += [para(head, "h2"), para(clip(note.text, NOTE_CHARS) if note.text else "(no text)")]
    return parts


def limitations_section(content: ReportContent) -> list:
    return [para("5. Limitations", "h1"), *[para(f"• {line}") for line in limitation_lines(content)]]


def limitation_lines(content: ReportContent) -> list[str]:
    v = content.analysis.evidence.video
    lines = [f"{m.name} was trained on: {m.training_data}. It was not trained on other sources or manipulation "
             "methods, which it may miss or misjudge." for m in content.models if m.status == DETECTOR_USED]
    lines += [f"Excluded from the verdict: {m.name}, {EXCLUSION_REASONS.get(m.status, m.status)}"
              + (f" ({m.note})." if m.note else ".") for m in content.models if m.status != DETECTOR_USED]
    bitrate = v.size_bytes * 8 / v.duration_s / 1000 if v.duration_s else 0.0
    lines.append(f"Compression: the evidence is {v.codec} at about {bitrate:,.0f} kbit/s on average, {v.width} x "
                 f"{v.height} pixels. Strong compression, re-encoding, resizing and small faces remove the traces "
                 "detectors rely on and lower their reliability; compression differences alone can also make "
                 "videos look different to a model.")
    lines.append("Scores are computed on sampled frames only; manipulation confined to frames that were not sampled, "
                 "or to faces that were not detected, is not seen. Audio is not analysed.")
    if (main := content.analysis.main_presence) is not None:
        lines.append(f"The main face was found in {main.words()}; the scores of the main face rest on those frames "
                     "only.")
    lines += coverage_lines(content.analysis)
    return lines


def coverage_lines(analysis: AnalysisView) -> list[str]:
    """What "no manipulation detected by these models" covers, and what it does not."""
    verdict = analysis.verdict
    lines = ["'No manipulation detected by these models' means only that: these models, on the frames and faces "
             "examined, found no sign of the manipulation methods they were validated on. It does not establish that "
             "the video is unaltered. Any verdict should be weighed with the rest of the case."]
    if verdict is None or verdict.coverage is None:
        return [*lines, "Coverage: the ensemble used was not validated here on labelled videos, so no detection rate "
                        "can be given for any manipulation method."]
    size = (f" ({verdict.evidence.validation_videos} labelled validation videos, out of sample)"
            if verdict.evidence is not None else "")
    return [*lines, f"Coverage{size}: {verdict.coverage.statement()} Rates are measured at the verdict's operating "
                    f"point (LR at least {LR_WORDS}) on few videos and are uncertain."]


def audit_section(content: ReportContent) -> list:
    rows = [[local_time(line.at), clip(line.actor, NAME_CHARS), audit_action(line), line.subject, line.values]
            for line in content.audit]
    parts = [para("6. Audit trail of this evidence", "h1"),
             para("Every recorded action on this evidence, oldest first, in words; the code under each action is its "
                  "name in the audit log (this export is logged as 'report.export' once the report is complete).",
                  "intro_small")]
    if not rows:
        return [*parts, para("No audit events recorded.")]
    return [*parts, grid(["Time", "Actor", "Action", "Object", "Key values"], rows,
                         [88, 62, 108, 62, TEXT_WIDTH - 320], 6.5)]


def audit_action(line: AuditLine) -> Paragraph:
    """The action in words, its log code small beneath."""
    return markup(f"{plain(line.words)}<br/><font size=5.5 color='#666666'>{plain(line.action)}</font>", "audit")


def chain_words(trust: TrustFacts) -> str:
    """The result of `dfdesk audit verify`, run over the whole log at export."""
    if not trust.chain_problems:
        return (f"verified at export: all {trust.audit_count:,} events intact (hash chain and installation "
                "signatures), the log not shorter than this installation last recorded")
    return (f"{trust.chain_problems} PROBLEM(S) found by `dfdesk audit verify` at export: the log was edited, "
            "truncated or written without this installation's key")


def records_section(trust: TrustFacts | None) -> list:
    """The audit head this report was made against, who made it, and how to check the PDF's signature."""
    if trust is None:
        return []
    chain = chain_words(trust)
    who = {True: "an authenticated profile", None: "single-user installation: no profiles, no login",
           False: "NOT AUTHENTICATED: a name from DFDESK_ANALYST or the operating-system user, without a login"}
    rows = [("Audit events", f"{trust.audit_count:,}"), ("Head hash", para(trust.audit_hash, "mono")),
            ("Head signature", para(trust.audit_signature or "unsigned", "mono")),
            ("Signed by key", para(trust.audit_signer or "none", "mono")), ("Audit log at export", chain),
            ("Exported by", f"{trust.exporter} ({who[trust.exporter_authenticated]})"),
            ("PDF certificate SHA-256", para(trust.certificate_sha256, "mono"))]
    rows += [("Audit problem", para(line, "alert")) for line in trust.chain_findings]
    rows += [("NOT AUDITED", para(line, "alert")) for line in trust.unaudited]
    return [para("7. Integrity of the records", "h1"),
            para("The audit log's head when this report was made. A later audit log with fewer events, or another "
                 f"hash at event {trust.audit_count:,}, was truncated or rewritten after this report.",
                 "intro_small"),
            key_values(rows),
            para("This PDF carries a digital signature (PAdES) made with this installation's self-signed "
                 "certificate. A PDF reader that validates it shows that the file is unchanged since signing and "
                 "which installation signed it, once the certificate's SHA-256 above has been compared with the "
                 "installation's; it does not prove a person's legal identity.", "intro_small")]


# --- 6. page header and footer -------------------------------------------------------------------

class DecoratedCanvas(Canvas):
    """Keeps every page until the end so each can say "page x of y" beside the case and report id."""

    def __init__(self, *args, header: str, report_uid: str, version: str, **kwargs):
        kwargs["initialFontName"] = SANS  # else an unused, unembedded Helvetica is listed on every page
        super().__init__(*args, **kwargs)
        self._header, self._uid, self._version = header, report_uid, version
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._decorate(number, len(self._pages))
            super().showPage()
        super().save()

    def _decorate(self, number: int, total: int) -> None:
        self.saveState()
        self.setStrokeColor(RULE_GREY)
        self.setLineWidth(0.5)
        top, bottom = PAGE_HEIGHT - MARGIN + 2, MARGIN - 4
        self.line(MARGIN, top - 3, PAGE_WIDTH - MARGIN, top - 3)
        self.line(MARGIN, bottom + 9, PAGE_WIDTH - MARGIN, bottom + 9)
        self.setFont(SANS, 7.5)
        uid = f"Report {self._uid}"
        self._draw_runs(MARGIN, top, fit(self._header, 7.5, TEXT_WIDTH - pdfmetrics.stringWidth(uid, SANS, 7.5) - 12))
        self.setFont(SANS, 7.5)
        self.drawRightString(PAGE_WIDTH - MARGIN, top, uid)
        self.drawString(MARGIN, bottom, f"dfdesk {self._version} — forensic video analysis report")
        self.drawRightString(PAGE_WIDTH - MARGIN, bottom, f"page {number} of {total}")
        self.restoreState()


    def _draw_runs(self, x: float, y: float, text: str, size: float = 7.5) -> None:
        """One line of text in one text object, each run in the font that has its glyphs."""
        line = self.beginText(x, y)
        for font, run in font_runs(text):
            line.setFont(font, size)
            line.textOut(run)
        self.drawText(line)


def text_width(text: str, size: float) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in font_runs(text))


def fit(text: str, size: float, width: float) -> str:
    """``text`` shortened with an ellipsis until it fits ``width`` points."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"
