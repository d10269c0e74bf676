"""The analysis use case: one video, an ensemble of detectors, a calibrated verdict, saved in one transaction.

``run_analysis`` is a generator (the GUI runs it in a worker, the CLI drives it directly): it yields
``Progress`` and ``DetectorScored`` events and returns the analysis id.  One decode and one face
detection serve every detector; crops are cached on disk, so a re-run (or a resumed, interrupted
analysis) does not detect faces again.

The analysed bytes are the hashed bytes: the evidence file is opened once, hashed through that descriptor against
its intake SHA-256, probed and decoded through it, and checked unchanged (``fstat``: device, inode, size, mtime)
after decoding; a file written to meanwhile fails the analysis with both hashes named.  Of several video streams
the one asked for is analysed, else the container's default one; the summary lists them all.
"""
from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from dfdesk import paths
from dfdesk.core.crop_cache import CropCache
from dfdesk.core.crops import CropSpec
from dfdesk.core.evidence_file import OpenedEvidence
from dfdesk.core.faces import FaceSettings
from dfdesk.core.outcome import (
    DETECTOR_FAILED,
    DETECTOR_NEEDS_TRAINING,
    DETECTOR_NO_INPUT,
    AnalysisOutcome,
    DetectorRun,
)
from dfdesk.core.pipeline import Cancelled, FaceExtraction
from dfdesk.core.probe import VideoError, list_video_streams, probe_video
from dfdesk.core.sampling import SamplingPlan, union_indices
from dfdesk.core.types import Progress, VideoInfo
from dfdesk.detectors.cards import CardError, ModelCard
from dfdesk.detectors.registry import create_detector
from dfdesk.detectors.scoring import extract_for, is_frame_level, plans_for, score_model
from dfdesk.detectors.weights import WeightsError
from dfdesk.services import audit
from dfdesk.services.analysis_store import (
    RECORD_SCHEMA,
    SCHEMA_KEY,
    RecordSchemaError,
    check_record_schema,
    save_outcome,
)
from dfdesk.services.artifact_folders import analysis_folder
from dfdesk.services.detector_runs import detector_run
from dfdesk.services.devices import resolve_device
from dfdesk.services.explanations import render_heatmaps
from dfdesk.services.model_selection import Selection, select_models
from dfdesk.services.recovery import RESUMABLE
from dfdesk.services.verdicts import AUTO, Fuser, build_outcome, no_face_outcome
from dfdesk.store.database import Database
from dfdesk.store.tables import Analysis, Evidence, utcnow

log = logging.getLogger(__name__)
# what one detector may raise while it runs (torch's CUDA out-of-memory is a RuntimeError): it fails alone
DETECTOR_RUN_ERRORS = (CardError, WeightsError, RuntimeError, ValueError, MemoryError)


class AnalysisError(Exception):
    """The analysis cannot run or failed; the message is one readable line."""


class AnalysisCancelled(Exception):
    """The analyst cancelled the analysis."""


@dataclass(frozen=True)
class AnalysisRequest:
    models: tuple[str, ...] | None = None  # None: every installed model with trained weights
    frames: int | None = None  # frames (frame-level detectors) or frames' worth of clips (clip detectors)
    sampling: str | None = None  # frame-level detectors: uniform | random | every | all (default: the card's)
    seed: int = 0
    device: str = "auto"
    fusion: str = AUTO  # verdicts.FUSION_CHOICES; auto: the validated ensemble, else an inconclusive plain mean
    frame_aggregation: str = "mean"  # mean | confident (DFDC winners' rule)
    heatmaps_per_detector: int = 3
    batch_size: int = 8
    face: FaceSettings = field(default_factory=FaceSettings)
    stream: int | None = None  # container index of the video stream to analyse; None: the default one

    @classmethod
    def from_settings(cls, settings: dict, seed: int) -> AnalysisRequest:
        """The request an analysis was started with, from its saved settings (to resume it as it was);
        RecordSchemaError for settings saved by a newer dfdesk."""
        check_record_schema(settings, None, "settings")
        models = settings.get("models_requested")
        frames, sampling = settings.get("frames"), settings.get("sampling")
        face = dict(settings.get("face_settings") or {})
        if "thresholds" in face:
            face["thresholds"] = tuple(face["thresholds"])
        return cls(models=tuple(models) if isinstance(models, list) else None,
                   frames=frames if isinstance(frames, int) else None,
                   sampling=None if sampling == "per model card" else sampling, seed=seed,
                   device=settings.get("requested_device", "auto"), fusion=settings.get("fusion", "mean"),
                   frame_aggregation=settings.get("frame_aggregation", "mean"),
                   heatmaps_per_detector=settings.get("heatmaps_per_detector", 3),
                   batch_size=settings.get("batch_size", 8), face=FaceSettings(**face),
                   stream=settings.get("stream_index"))  # the stream analysed before, whatever was asked


def resume_analysis(db: Database, analysis_id: int, actor: str, cancel: Callable[[], bool] | None = None
                    ) -> Generator[Progress | DetectorScored, None, int]:
    """Run an interrupted, failed or cancelled analysis again in place, with the settings it was started with."""
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:
            raise AnalysisError(f"no analysis with id {analysis_id}")
        if analysis.status not in RESUMABLE:
            raise AnalysisError(f"analysis {analysis_id} is {analysis.status}; only "
                                f"{', '.join(RESUMABLE)} analyses can be resumed")
        try:
            request = AnalysisRequest.from_settings(analysis.settings, analysis.seed)
        except RecordSchemaError as exc:
            raise AnalysisError(f"analysis {analysis_id} cannot be resumed: {exc}") from None
        evidence_id = analysis.evidence_id
    return (yield from run_analysis(db, evidence_id, request, actor, cancel, resume_id=analysis_id))



@dataclass(frozen=True)
class DetectorScored:
    name: str
    fake_probability: float | None
    status: str


@dataclass(frozen=True)
class AnalysisPlan:
    """What one analysis of one video runs, decided before any work and without the database: the video, the
    models, each model's frames and the device.  Batch workers compute with it in other processes or on other
    machines; ``run_analysis`` uses the same plan."""

    info: VideoInfo
    sha256: str
    selection: Selection
    plans: dict[str, SamplingPlan]
    device: str
    stream_index: int | None = None  # None: the container's default video stream
    video_streams: tuple[dict, ...] = ()  # every video stream of the file (see core.probe.video_streams)


@dataclass(frozen=True)
class _Job:
    analysis_id: int
    case_id: int
    evidence_id: int
    plan: AnalysisPlan
    evidence: OpenedEvidence  # hashed against intake; every decode of the analysis reads it


def run_analysis(db: Database, evidence_id: int, request: AnalysisRequest, actor: str,
                 cancel: Callable[[], bool] | None = None,
                 resume_id: int | None = None) -> Generator[Progress | DetectorScored, None, int]:
    yield Progress("verify", 0, 1, "checking the evidence file's SHA-256")
    job = _start(db, evidence_id, request, actor, resume_id)
    with job.evidence:
        return (yield from _run_job(db, job, request, actor, cancel))


def _run_job(db: Database, job: _Job, request: AnalysisRequest, actor: str, cancel
             ) -> Generator[Progress | DetectorScored, None, int]:
    started = time.perf_counter()
    try:
        folder = analysis_folder(db, job.case_id, job.analysis_id)
        outcome = yield from compute_outcome(job.plan, request, folder, cancel, job.evidence)
        job.evidence.check_unchanged()
    except (Cancelled, AnalysisCancelled):
        _end(db, job, "cancelled", actor, "cancelled by the analyst")
        raise AnalysisCancelled("the analysis was cancelled") from None
    except Exception as exc:
        _end(db, job, "failed", actor, f"{type(exc).__name__}: {exc}")
        raise AnalysisError(f"the analysis failed: {exc}") from exc
    yield Progress("save", 0, 1, "saving the results")
    outcome = replace(outcome, timings_s={**outcome.timings_s, "total": time.perf_counter() - started})
    try:
        _save(db, job, outcome, actor)
    except Exception as exc:  # a full disk, a lost database: the row must not stay "running"
        with contextlib.suppress(Exception):  # if even that write fails, recovery marks the row at the next start
            _end(db, job, "failed", actor, f"saving the results failed: {type(exc).__name__}: {exc}")
        raise AnalysisError(f"the analysis could not be saved: {exc}") from exc
    yield Progress("save", 1, 1, "done")
    return job.analysis_id


def _save(db: Database, job: _Job, outcome: AnalysisOutcome, actor: str) -> None:
    """The results, the status ``done`` and the audit event, in one transaction (all or nothing)."""
    save_started = time.perf_counter()
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, job.analysis_id)
        save_outcome(session, analysis, outcome, job.plan.video_streams, job.plan.stream_index)
        analysis.timings = {**analysis.timings, "save": round(time.perf_counter() - save_started, 4)}
        audit.record(session, actor, "analysis.done", case_id=job.case_id, evidence_id=job.evidence_id,
                     analysis_id=job.analysis_id, verdict=outcome.verdict.label,
                     fake_probability=outcome.verdict.fake_probability)


def _start(db: Database, evidence_id: int, request: AnalysisRequest, actor: str, resume_id: int | None) -> _Job:
    with db.unit_of_work() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise AnalysisError(f"no evidence with id {evidence_id}")
        if evidence.case.closed:
            raise AnalysisError(f"case {evidence.case.name!r} is closed: reopen it to analyse its evidence")
        path, digest, case_id = evidence.path, evidence.sha256, evidence.case_id
    opened = _open_verified(db, path, digest, case_id, evidence_id, actor)
    try:
        info, streams = _probe_stream(opened, request.stream)
        plan = plan_analysis(info, opened.sha256, request, streams)
        with db.unit_of_work() as session:
            analysis = _analysis_row(session, evidence_id, request, actor, plan, resume_id)
            audit.record(session, actor, "analysis.start", case_id=case_id, evidence_id=evidence_id,
                         analysis_id=analysis.id, models=[c.name for c in plan.selection.usable], resumed=resume_id)
            analysis_id = analysis.id
    except BaseException:
        opened.close()
        raise
    return _Job(analysis_id, case_id, evidence_id, plan, opened)


def _probe_stream(opened: OpenedEvidence, stream: int | None) -> tuple[VideoInfo, tuple[dict, ...]]:
    """The chosen video stream described through the hashed descriptor, and every video stream of the file."""
    try:
        return probe_video(opened, stream), tuple(list_video_streams(opened))
    except VideoError as exc:
        raise AnalysisError(str(exc)) from None


def check_request(request: AnalysisRequest) -> None:
    """AnalysisError when the request cannot run whatever the video (unknown model, bad fusion rule, no such
    device): front ends call it before anything is written, so bad input leaves the database as it was."""
    try:
        selection = select_models(request.models)
        resolve_device(request.device)
        Fuser(request.fusion, {c.name: c for c in selection.usable})
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None


def plan_analysis(info: VideoInfo, sha256: str, request: AnalysisRequest, video_streams: tuple[dict, ...] = ()
                  ) -> AnalysisPlan:
    """The models, per-model frame plans and device an analysis of this video runs (no database, no file read).
    ``info`` describes the video stream analysed (``request.stream``, else the default one); ``video_streams``
    lists every video stream of the file.  AnalysisError when the request cannot run (unknown model, bad fusion
    rule, no such device)."""
    try:
        selection = select_models(request.models)
        device = resolve_device(request.device)
        plans = plans_for(selection.usable, info.frame_count, request.frames, request.sampling, request.seed)
        Fuser(request.fusion, {c.name: c for c in selection.usable})  # a bad fusion rule fails before any work
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    chosen = request.stream if request.stream is not None else _default_stream(video_streams)
    return AnalysisPlan(info, sha256, selection, plans, device, chosen, tuple(video_streams))


def _default_stream(video_streams: tuple[dict, ...]) -> int | None:
    """The stream the container marks default, else the first (None when the streams are not known)."""
    return next((s["index"] for s in video_streams if s["default"]),
                video_streams[0]["index"] if video_streams else None)


def add_analysis_row(session, evidence_id: int, request: AnalysisRequest, actor: str, plan: AnalysisPlan,
                     worker: dict) -> Analysis:
    """A new ``running`` analysis row for a plan computed elsewhere (a batch worker), in the caller's transaction;
    ``worker`` says which process on which machine computed it.  The caller saves the outcome in the same
    transaction (``analysis_store.save_outcome``), so the row is never seen half-done."""
    analysis = _analysis_row(session, evidence_id, request, actor, plan, None)
    analysis.settings = {**analysis.settings, "worker": dict(worker)}
    return analysis


def _open_verified(db: Database, path: str, digest: str, case_id: int, evidence_id: int, actor: str
                   ) -> OpenedEvidence:
    """The evidence file opened once and hashed through that descriptor; AnalysisError (the mismatch audited) when
    its SHA-256 is not the intake's."""
    try:
        opened = OpenedEvidence(path)
    except VideoError as exc:
        raise AnalysisError(f"the evidence file cannot be read: {exc}") from None
    try:
        now = opened.hash()
    except (OSError, VideoError) as exc:
        opened.close()
        raise AnalysisError(f"{path}: the evidence file cannot be read ({getattr(exc, 'strerror', None) or exc})"
                            ) from None
    if now != digest:
        opened.close()
        with db.unit_of_work() as session:
            audit.record(session, actor, "evidence.hash_mismatch", case_id=case_id, evidence_id=evidence_id,
                         expected=digest, found=now)
        raise AnalysisError(f"{path}: the file has changed since intake (SHA-256 {now[:16]}… "
                            f"instead of {digest[:16]}…); it is not analysed")
    return opened


def _analysis_row(session, evidence_id, request, actor, plan: AnalysisPlan, resume_id) -> Analysis:
    settings = {SCHEMA_KEY: RECORD_SCHEMA,
                "sampling": request.sampling or "per model card", "frames": request.frames or "per model card",
                "models_requested": list(request.models) if request.models else "every trained model",
                "device": plan.device, "requested_device": request.device, "fusion": request.fusion,
                "frame_aggregation": request.frame_aggregation,
                "batch_size": request.batch_size, "heatmaps_per_detector": request.heatmaps_per_detector,
                "face_settings": request.face.to_dict(), "plans": {n: p.to_dict() for n, p in plan.plans.items()},
                "stream_requested": request.stream, "stream_index": plan.stream_index,
                "worker": {"pid": os.getpid(), "host": socket.gethostname()}}
    models = [_model_record(c) for c in plan.selection.usable]
    if resume_id is not None:
        analysis = session.get(Analysis, resume_id)
        if analysis is None or analysis.evidence_id != evidence_id or analysis.status == "done":
            raise AnalysisError(f"analysis {resume_id} cannot be resumed (unknown, other evidence, or done)")
        analysis.status, analysis.settings, analysis.models, analysis.error = "running", settings, models, ""
        return analysis
    analysis = Analysis(evidence_id=evidence_id, created_by=actor, status="running", settings=settings,
                        seed=request.seed, models=models)
    session.add(analysis)
    session.flush()
    return analysis


def _model_record(card: ModelCard) -> dict:
    return {"name": card.name, "version": card.version, "architecture": card.architecture,
            "crop": CropSpec.from_input(card.input).to_dict(), "weights_sha256": card.weights_sha256,
            "threshold": card.threshold,
            "calibration": asdict(card.calibration), "training_data": card.training_data,
            "licence": card.licence, "metrics": card.metrics}


def _end(db: Database, job: _Job, status: str, actor: str, message: str) -> None:
    with db.unit_of_work() as session:
        analysis = session.get(Analysis, job.analysis_id)
        analysis.status, analysis.error, analysis.finished_at = status, message, utcnow()
        audit.record(session, actor, f"analysis.{status}", case_id=job.case_id, evidence_id=job.evidence_id,
                     analysis_id=job.analysis_id, message=message)


def face_settings_for(plan: AnalysisPlan, request: AnalysisRequest) -> FaceSettings:
    """The face settings the analysis detects with (the plan's device): the crop cache is keyed by them."""
    return replace(request.face, device=plan.device)


def extract_plan_faces(plan: AnalysisPlan, request: AnalysisRequest, cancel=None,
                       evidence: OpenedEvidence | None = None) -> Generator[Progress, None, FaceExtraction]:
    """Decode, face detection and every model's crops for the plan, through the on-disk crop cache: what
    ``compute_outcome`` does first, so a batch worker can run this step in another process beforehand.

    ``evidence``: the file opened and hashed (``plan.sha256``) by the caller; without it the file at
    ``plan.info.path`` is opened and hashed here, and refused when its SHA-256 is no longer ``plan.sha256``."""
    return (yield from extract_for(
        evidence or plan.info.path, plan.info, plan.selection.usable, plan.plans, face_settings_for(plan, request),
        sha256=plan.sha256, cache=CropCache(paths.cache_dir() / "crops"), cancel=cancel, stream=plan.stream_index))


def compute_outcome(plan: AnalysisPlan, request: AnalysisRequest, heatmap_folder: Path, cancel=None,
                    evidence: OpenedEvidence | None = None
                    ) -> Generator[Progress | DetectorScored, None, AnalysisOutcome]:
    """Faces, detectors, fusion and verdict of one video, without the database.  The heat-map PNGs are written
    into ``heatmap_folder``.  ``evidence``: see :func:`extract_plan_faces`."""
    torch.manual_seed(request.seed)
    timings: dict[str, float] = {}
    specs = {c.name: CropSpec.from_input(c.input) for c in plan.selection.usable}
    started = time.perf_counter()
    extraction = yield from extract_plan_faces(plan, request, cancel, evidence)
    extraction = replace(extraction, warnings=stream_warnings(plan) + extraction.warnings)
    timings["decode+faces"] = round(time.perf_counter() - started, 4)
    excluded = _excluded_runs(plan.selection)
    frames_wanted = len(union_indices(plan.plans.values()))
    if extraction.no_face or not plan.selection.usable:
        return no_face_outcome(extraction, excluded, plan.plans, frames_wanted, timings, request,
                               bool(plan.selection.usable))
    runs, scores, heatmaps = [], {}, []
    timings["explanations"] = 0.0
    for card in plan.selection.usable:
        started = time.perf_counter()
        run, clip_scores, drawn = yield from _run_detector(card, plan, extraction, specs, request, cancel,
                                                           heatmap_folder)
        timings[card.name] = round(time.perf_counter() - started, 4)  # scores and heat maps: its progress stage
        timings["explanations"] += round(timings[card.name] - run.seconds, 4)
        runs.append(run)
        scores[card.name] = (card, clip_scores, None)  # the model itself is released once its heat maps are drawn
        heatmaps += drawn
        yield DetectorScored(card.name, run.fake_probability, run.status)
    return build_outcome(extraction, runs + excluded, scores, heatmaps, frames_wanted, timings, request, plan.sha256)


def stream_warnings(plan: AnalysisPlan) -> tuple[str, ...]:
    """The warning every result of a file with more than one video stream carries."""
    warning = stream_warning(plan.video_streams, plan.stream_index)
    return (warning,) if warning else ()


def stream_warning(video_streams: Sequence[dict], chosen: int | None) -> str | None:
    """The sentence for a file with more than one video stream (None for one): which is analysed, which not."""
    if len(video_streams) < 2:
        return None
    others = ", ".join(str(s["index"]) for s in video_streams if s["index"] != chosen)
    return (f"the file holds {len(video_streams)} video streams: stream {chosen} is analysed, stream(s) {others} "
            "not (another stream may show a different video; choose one with --stream)")


def video_streams_of(path: str | os.PathLike) -> list[dict]:
    """Every video stream of the file (index, codec, width, height, frames, default); none when it cannot be
    read as a video.  Front ends offer the choice of stream from it."""
    try:
        with OpenedEvidence(path) as opened:
            return list_video_streams(opened)
    except VideoError:
        return []


def check_stream(path: str | os.PathLike, stream: int | None) -> str | None:
    """Front ends call it before any work: AnalysisError when ``stream`` is not a video stream of the file; else
    the warning for a file with several video streams (None for one).  A file that cannot be read as a video
    passes (intake then says why in its own words)."""
    if stream is not None and stream < 0:
        raise AnalysisError(f"--stream {stream}: a stream index is 0 or more")
    streams = video_streams_of(path)
    indices = [s["index"] for s in streams]
    if stream is not None and streams and stream not in indices:
        raise AnalysisError(f"{path}: stream {stream} is not a video stream of this file (video streams: "
                            f"{', '.join(map(str, indices))})")
    return stream_warning(streams, stream if stream is not None else _default_stream(tuple(streams)))


def _run_detector(card, plan: AnalysisPlan, extraction: FaceExtraction, specs: dict[str, CropSpec],
                  request: AnalysisRequest, cancel, heatmap_folder: Path):
    """One detector's run, clip scores and heat maps (PNGs in ``heatmap_folder``).  Its model is loaded for these
    and released before the next detector loads (the ensemble's models are never resident together).  An error of
    this detector (bad weights, out of memory, a shape it cannot take) gives a ``failed`` run with the reason, and
    the analysis goes on with the others."""
    stage = f"detector {card.name}"
    started = time.perf_counter()
    yield Progress(stage, 0, 2, f"running {card.name}")
    model = None
    try:
        model = create_detector(card, plan.device)
        clip_scores = score_model(model, card, plan.plans[card.name], extraction, plan.device, request.batch_size,
                                  cancel)
        run = detector_run(card, clip_scores, extraction.main_track.track_id,
                           {f.index: f.time_s for f in extraction.all_frames}, is_frame_level(card),
                           request.frame_aggregation, time.perf_counter() - started)
    except DETECTOR_RUN_ERRORS as exc:
        model = None
        _release_memory(plan.device)
        return _failed_run(card, exc, time.perf_counter() - started), [], []
    try:
        yield Progress(stage, 1, 2, f"drawing {card.name}'s heat maps")
        drawn = render_heatmaps(heatmap_folder, [run], {card.name: (card, clip_scores, model)}, extraction, specs,
                                plan.device, request.heatmaps_per_detector)
    finally:
        model = None
        _release_memory(plan.device)
    yield Progress(stage, 2, 2, f"{card.name} done")
    return run, clip_scores, drawn


def _release_memory(device: str) -> None:
    """Hand the memory of a dropped model back (the CUDA allocator keeps freed blocks cached otherwise)."""
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _failed_run(card, exc: BaseException, seconds: float) -> DetectorRun:
    """The record of a detector that failed: its reason (first line), logged."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    reason = first_line if isinstance(exc, CardError | WeightsError) else ": ".join(
        filter(None, (type(exc).__name__, first_line)))
    log.warning("detector %s failed and is left out of the verdict: %s", card.name, reason)
    return DetectorRun(card.name, card.version, card.architecture, card.weights_sha256, DETECTOR_FAILED, reason,
                       card.threshold, seconds=seconds)


def _excluded_runs(selection: Selection) -> list[DetectorRun]:
    return [DetectorRun(c.name, c.version, c.architecture, c.weights_sha256, DETECTOR_NEEDS_TRAINING,
                        "no trained weights installed: excluded from the verdict") for c in selection.needs_training]


__all__ = ["AnalysisCancelled", "AnalysisError", "AnalysisPlan", "AnalysisRequest", "DetectorScored", "check_request",
           "check_stream", "video_streams_of",
           "DETECTOR_NO_INPUT", "add_analysis_row", "compute_outcome", "extract_plan_faces", "plan_analysis",
           "run_analysis"]
