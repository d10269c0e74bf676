"""Exporting a saved analysis as a PDF forensic report.

The evidence is re-hashed before every report (a mismatch is audited at once and printed
prominently).  The PDF is written and signed under a temporary name in the target folder, its
SHA-256 is recorded in the ``reports`` table and the audit log, and only after that commit are
the PDF and a ``.sha256`` file in sha256sum format renamed into place
(:mod:`dfdesk.services.report_publish`: a kill at any moment leaves no report or a recorded one).
An existing file is replaced only when the caller says so (``overwrite``), and the replacement is
audited (``report.overwrite``: the replaced file's SHA-256 and report id).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from dfdesk import __version__
from dfdesk.core.outcome import DetectorRun, Heatmap
from dfdesk.core.probe import VideoError, sha256_file
from dfdesk.detectors.metric_words import metric_words
from dfdesk.services import audit
from dfdesk.services.ingest import verify_evidence
from dfdesk.services.key_frames import KeyFrameMismatch, KeyFrameSource, ScoredCrops, Wanted, decode_key_frames
from dfdesk.services.report_audit_words import describe_event
from dfdesk.services.report_document import build_pdf
from dfdesk.services.report_environment import environment_facts
from dfdesk.services.report_front import EXAMINER_ACTOR, EXAMINER_CASE, EXAMINER_GIVEN
from dfdesk.services.report_layout import (
    NOT_RECORDED,
    AuditLine,
    HashCheck,
    KeyFrame,
    ModelFacts,
    ReportContent,
)
from dfdesk.services.report_publish import clean_stale, publish, replaced_report, stage
from dfdesk.services.report_signature import sign_staged_report
from dfdesk.services.report_still import frame_still
from dfdesk.services.report_trust import RecordsDisagree, actor_label, gather_trust
from dfdesk.services.results import AnalysisView, ResultNotFound, load_analysis
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, Evidence, Report

log = logging.getLogger(__name__)
MAX_KEY_FRAMES = 8
CROP_SIDE = 256  # pixels of the face crop embedded per key frame
CROP_MARGIN = 0.3  # context around the face box, as a fraction of its side


class ReportError(Exception):
    """The report cannot be made (unknown or unfinished analysis, unusable output path)."""


class ReportExists(ReportError):
    """A file is already where the report should go, and replacing it was not asked for."""


@dataclass(frozen=True)
class ReportResult:
    path: Path
    sha256: str
    report_uid: str
    evidence_hash_ok: bool


def export_report(db: Database, analysis_id: int, out_path: str | Path, actor: str, *,
                  examiner: str | None = None, overwrite: bool = False) -> ReportResult:
    """Verify the evidence, write the report of ``analysis_id`` to ``out_path`` and record it.

    An existing file at ``out_path`` is refused (:class:`ReportExists`) unless ``overwrite``; then its
    replacement is audited.
    """
    target = Path(out_path).absolute()
    _check_target(target)
    clean_stale(db, target.parent, actor)  # may finish a report that a killed export had recorded
    if os.path.lexists(target) and not overwrite:
        raise ReportExists(_exists_message(target))
    check = verify_analysis_evidence(db, analysis_id, actor)
    try:
        trust = gather_trust(db, analysis_id, actor)  # refuses records that disagree with their audit events
    except RecordsDisagree as exc:
        raise ReportError(str(exc)) from None
    content = replace(gather_content(db, analysis_id, check, examiner, actor), trust=trust)
    staged = stage(target.parent)
    try:
        digest = _write_pdf(content, staged.pdf)
        staged.checksum.write_text(f"{digest}  {target.name}\n", encoding="utf-8")
        _record(db, content, target, digest, actor, overwrite)
    except BaseException:
        staged.discard()  # nothing was recorded: nothing is published
        raise
    try:
        publish(staged, target)  # recorded: a kill before this line is finished by the next export's clean_stale
    except OSError as exc:
        raise ReportError(f"report {content.report_uid} was recorded but could not be put in place at {target} "
                          f"({exc.strerror or exc}); the next export into that folder puts it there") from None
    return ReportResult(target, digest, content.report_uid, check.ok)


def _check_target(target: Path) -> None:
    if not target.parent.is_dir():
        raise ReportError(f"folder {target.parent} does not exist")
    if target.is_dir():
        raise ReportError(f"{target} is a folder; give a file name ending in .pdf")


def _exists_message(target: Path) -> str:
    return (f"{target} already exists: give another file name, or replace it on purpose (`dfdesk report ID --out "
            "FILE --force`; the replacement is audited)")


# --- evidence verification ------------------------------------------------------------------------

def verify_analysis_evidence(db: Database, analysis_id: int, actor: str) -> HashCheck:
    """Re-hash the analysed evidence; a mismatch or an unreadable file is audited immediately."""
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            raise ReportError(f"no analysis with id {analysis_id}")
        if analysis.status != "done":
            raise ReportError(f"analysis {analysis_id} is {analysis.status}, not finished: nothing to report")
        evidence: Evidence = analysis.evidence
        ok, now = verify_evidence(evidence)
        check = HashCheck(evidence.sha256, now, ok)
        if not ok:
            action = "evidence.hash_mismatch" if check.readable else "evidence.unreadable"
            audit.record(session, actor, action, case_id=evidence.case_id, evidence_id=evidence.id,
                         sha256_intake=evidence.sha256, sha256_now=now, during="report.export",
                         analysis_id=analysis_id)
            log.info("evidence %s failed verification before a report: %s", evidence.path, now)
    return check


# --- gathering what the report shows ---------------------------------------------------------------

def gather_content(db: Database, analysis_id: int, check: HashCheck, examiner: str | None,
                   actor: str) -> ReportContent:
    """Everything the report prints about ``analysis_id`` (read in one unit of work, then the key frames decoded).

    The examiner is ``examiner`` when given, else the case record's examiner, else ``actor``."""
    with db.unit_of_work() as session:
        try:
            analysis = load_analysis(session, analysis_id)
        except ResultNotFound as exc:
            raise ReportError(str(exc)) from None
        row = session.get(Analysis, analysis_id)
        summary, settings = dict(row.summary or {}), dict(row.settings or {})
        name, source = choose_examiner(examiner, getattr(row.evidence.case, "examiner", None), actor)
        audit_lines = tuple(audit_line(e) for e in audit.events_for(session, evidence_id=analysis.evidence.id))
    recorded_environment = summary.get("environment") or settings.get("environment")
    return ReportContent(report_uid=str(uuid.uuid4()), created_at=datetime.now().astimezone(), examiner=name,
                         dfdesk_version=__version__, analysis=analysis, hash_check=check,
                         models=model_facts(analysis), key_frames=key_frames(analysis, check), audit=audit_lines,
                         examiner_source=source,
                         environment=environment_facts(recorded_environment, settings.get("device")),
                         trained_on_evidence=trained_on(analysis.evidence.sha256),
                         video_streams=tuple(s for s in summary.get("video_streams") or () if isinstance(s, dict)),
                         stream_index=summary.get("stream_index"))


def choose_examiner(given: str | None, on_case: str | None, actor: str) -> tuple[str, str]:
    """(name, where it came from): the name given for this report, else the case's examiner, else the actor."""
    for name, source in ((given, EXAMINER_GIVEN), (on_case, EXAMINER_CASE)):
        if name and name.strip():
            return name.strip(), source
    return actor, EXAMINER_ACTOR


def audit_line(event) -> AuditLine:
    entry = describe_event(event.action, event.evidence_id, event.details)
    return AuditLine(event.at, actor_label(event), entry.words, entry.action, entry.subject, entry.values)


def trained_on(sha256: str) -> tuple[str, ...]:
    """Installed models whose recorded training files include this evidence (none before that record exists)."""
    try:
        from dfdesk.services.training_provenance import models_trained_on
    except ImportError:  # the provenance service is not part of this build yet
        return ()
    return tuple(models_trained_on(sha256))


def model_facts(analysis: AnalysisView) -> tuple[ModelFacts, ...]:
    """Every model of the analysis: what it recorded first, then the installed card, else "not recorded"."""
    recorded = {m.get("name"): m for m in analysis.models}
    runs = {d.name: d for d in analysis.detectors}
    names = list(runs) + [n for n in recorded if n not in runs]
    return tuple(_facts(name, runs.get(name), recorded.get(name, {})) for name in names)


def _facts(name: str, run: DetectorRun | None, recorded: dict) -> ModelFacts:
    card = installed_card(name)
    weights = (run.weights_sha256 if run else "") or recorded.get("weights_sha256", "")
    card_facts = _card_facts(card, weights)
    def pick(key: str) -> str:
        return _recorded_text(recorded, key) or card_facts.get(key) or NOT_RECORDED

    origin = "recorded with the analysis" + (f"; {card_facts['origin']}" if card_facts else "")
    return ModelFacts(
        name=name, version=(run.version if run else "") or recorded.get("version", NOT_RECORDED),
        architecture=(run.architecture if run else "") or recorded.get("architecture", NOT_RECORDED),
        status=run.status if run else "not run", note=run.note if run else "",
        threshold=run.threshold if run else recorded.get("threshold"),
        fake_probability=run.fake_probability if run else None, weights_sha256=weights,
        training_data=pick("training_data"), metrics=pick("metrics"), calibration=pick("calibration"),
        licence=pick("licence"), origin=origin)


def _recorded_text(recorded: dict, key: str) -> str:
    value = recorded.get(key)
    if key == "calibration" and isinstance(value, dict):
        return calibration_text(value.get("method", "none"), value)
    if key == "metrics" and isinstance(value, dict):
        return metrics_text(value)
    return str(value) if value else ""


def installed_card(name: str):
    """The installed model card named ``name``, or None (unknown, unreadable, or models unavailable)."""
    try:
        from dfdesk.services.models import find_model  # imports torch: only when a report is made
        return find_model(name)
    except Exception as exc:  # noqa: BLE001 - a missing card only means "not recorded" in the report
        log.info("no installed model card for %s: %s", name, exc)
        return None


def _card_facts(card, weights_used: str) -> dict[str, str]:
    if card is None:
        return {}
    same = not weights_used or card.weights_sha256 == weights_used
    origin = ("training data, metrics, calibration and licence from the installed model card" if same else
              "training data, metrics, calibration and licence from the installed model card, WHOSE WEIGHTS "
              f"DIFFER from those used (card: {card.weights_sha256 or 'none'})")
    calibration = card.calibration
    return {"training_data": card.training_data, "metrics": metrics_text(card.metrics),
            "calibration": calibration_text(calibration.method, vars(calibration)), "licence": card.licence,
            "origin": origin}


def calibration_text(method: str, values: dict) -> str:
    if method == "temperature":
        return f"temperature scaling, T = {values.get('temperature')}"
    if method == "platt":
        return f"Platt scaling, a = {values.get('a')}, b = {values.get('b')}"
    return "none (the model's own output is used as P(fake))"


def metrics_text(metrics: dict) -> str:
    return "; ".join(f"{metric_words(key)}: {value}" for key, value in sorted(metrics.items()))


# --- key frames ----------------------------------------------------------------------------------

def key_frames(analysis: AnalysisView, check: HashCheck) -> tuple[KeyFrame, ...]:
    """The highest-scoring heat-map frames (in time order) with the face cut from the evidence beside each.

    Each face crop is cut from pixels checked against what the analysis scored (services/key_frames.py); a
    frame that decodes to other pixels stops the export with :class:`ReportError`.
    """
    chosen = sorted(analysis.heatmaps, key=lambda h: -h.fake_probability)[:MAX_KEY_FRAMES]
    chosen.sort(key=lambda h: (h.frame_index, h.track_index, h.detector))
    crops, stills, sources, remark = _face_crops(analysis, chosen, check)
    fps = analysis.evidence.video.fps or 1.0
    return tuple(KeyFrame(h.detector, h.track_index, h.frame_index, _time_s(sources.get(h.frame_index), h, fps),
                          h.fake_probability, crop_png=crops.get((h.track_index, h.frame_index)),
                          heatmap_png=_heatmap_png(h), remark=remark, **_provenance(sources.get(h.frame_index)),
                          still_jpeg=stills.get((h.track_index, h.frame_index)))
                 for h in chosen)


def _time_s(source: KeyFrameSource | None, heatmap: Heatmap, fps: float) -> float:
    return source.frame.time_s if source is not None else heatmap.frame_index / fps


def _provenance(source: KeyFrameSource | None) -> dict:
    return {"pts": source.frame.pts, "pixel_check": source.check} if source is not None else {}


def _heatmap_png(heatmap: Heatmap) -> bytes | None:
    """The heat-map PNG as saved by the analysis; None when it is gone or has changed since."""
    try:
        data = Path(heatmap.path).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != heatmap.sha256:
        log.warning("heat map %s changed since the analysis; not shown", heatmap.path)
        return None
    return data


def _face_crops(analysis: AnalysisView, chosen: list[Heatmap], check: HashCheck):
    """(PNG face crops and JPEG full-frame stills with the face box, both keyed by (track, frame), decoded key
    frames by index, a remark when they cannot be shown).  Crops and stills come from the same checked pixels."""
    if not chosen:
        return {}, {}, {}, ""
    if not check.ok:
        return {}, {}, {}, ("face crop withheld, as is the full frame: the evidence file no longer matches its "
                            "intake hash")
    boxes = {t.track_index: t.boxes for t in analysis.tracks}
    wanted = [Wanted(h.frame_index, box, h.detector) for h in chosen
              if (box := boxes.get(h.track_index, {}).get(h.frame_index)) is not None]
    scored = ScoredCrops.of_analysis(analysis.evidence.sha256, analysis.settings, analysis.models)
    try:
        sources = decode_key_frames(analysis.evidence.video, wanted, scored)
    except KeyFrameMismatch as exc:
        raise ReportError(f"{exc}: the evidence decodes differently from when it was analysed") from None
    except VideoError as exc:
        log.warning("face crops unavailable: %s", exc)
        return {}, {}, {}, "face crop unavailable, as is the full frame: the evidence could not be decoded"
    placed = {(h.track_index, h.frame_index): (sources[h.frame_index].frame.image, box) for h in chosen
              if (box := boxes.get(h.track_index, {}).get(h.frame_index)) is not None and h.frame_index in sources}
    crops = {key: _crop_png(image, box) for key, (image, box) in placed.items()}
    stills = {key: frame_still(image, box) for key, (image, box) in placed.items()}
    return crops, stills, sources, ""


def _crop_png(image: np.ndarray, box: tuple[float, float, float, float]) -> bytes:
    x1, y1, x2, y2 = box
    half = max(x2 - x1, y2 - y1) * (1 + CROP_MARGIN) / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    height, width = image.shape[:2]
    left, top = int(max(cx - half, 0)), int(max(cy - half, 0))
    right, bottom = int(min(cx + half, width)), int(min(cy + half, height))
    crop = Image.fromarray(image[top:bottom, left:right])
    crop.thumbnail((CROP_SIDE, CROP_SIDE))
    buffer = io.BytesIO()
    crop.save(buffer, format="PNG")
    return buffer.getvalue()


# --- writing and recording ----------------------------------------------------------------------

def _write_pdf(content: ReportContent, staged: Path) -> str:
    with staged.open("wb") as stream:
        build_pdf(content, stream)
        stream.flush()
        os.fsync(stream.fileno())
    sign_staged_report(staged, content)  # PAdES signature, before the hash that the database records
    return sha256_file(staged)


def _record(db: Database, content: ReportContent, target: Path, digest: str, actor: str, overwrite: bool) -> None:
    """Commit the report's row and audit events (and, when it replaces a file, what it replaced)."""
    evidence = content.analysis.evidence
    where = {"case_id": evidence.case_id, "evidence_id": evidence.id, "analysis_id": content.analysis.id,
             "report_uid": content.report_uid}
    with db.unit_of_work() as session:
        if os.path.lexists(target):  # checked again: a file may have appeared since the export began
            if not overwrite:
                raise ReportExists(_exists_message(target))
            audit.record(session, actor, "report.overwrite", **where, **replaced_report(session, target))
        session.add(Report(report_uid=content.report_uid, analysis_id=content.analysis.id, path=str(target),
                           sha256=digest, created_by=actor, evidence_hash_ok=content.hash_check.ok))
        audit.record(session, actor, "report.export", **where, path=str(target), sha256=digest,
                     evidence_hash_ok=content.hash_check.ok, evidence_sha256_now=content.hash_check.now)
