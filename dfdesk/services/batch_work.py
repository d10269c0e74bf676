"""What a batch worker does with one file, in any process on any machine: no database.

``prepare`` probes and hashes the file, checks it against what the case already knows, and runs decode and
face detection (through the on-disk crop cache); ``compute`` runs the detectors, fusion and heat maps with the
product's own engine (``services.analysis.compute_outcome``), so a batch result is the result ``dfdesk analyze``
gives.  ``analyse`` is both in one call (a Ray task).  Every outcome is a small picklable value sent back to the
driver, which alone writes the case database; a file that cannot be analysed becomes a :class:`Refused` with
one line, never an exception.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from dfdesk.core.evidence_file import OpenedEvidence
from dfdesk.core.outcome import AnalysisOutcome, Heatmap
from dfdesk.core.pipeline import Cancelled
from dfdesk.core.probe import VideoError, check_readable_file, probe_video
from dfdesk.core.steps import run_to_end
from dfdesk.services.analysis import (
    AnalysisError,
    AnalysisPlan,
    AnalysisRequest,
    compute_outcome,
    extract_plan_faces,
    plan_analysis,
)

Cancel = Callable[[], bool] | None


@dataclass(frozen=True)
class BatchItem:
    """One file to triage.  ``expected_sha256``: the case's intake hash of this evidence (the file must still
    match it); ``done_sha256``: this path was already analysed with these bytes (skip it when they still match)."""

    path: str
    evidence_id: int | None = None
    expected_sha256: str | None = None
    done_sha256: str | None = None


@dataclass(frozen=True)
class Refused:
    """A file that is not analysed, with the one-line reason (``found_sha256`` when it changed since intake)."""

    path: str
    reason: str
    evidence_id: int | None = None
    found_sha256: str | None = None


@dataclass(frozen=True)
class AlreadyDone:
    path: str
    sha256: str


@dataclass(frozen=True)
class Prepared:
    """Probed, hashed and verified; faces detected and cropped into the crop cache."""

    item: BatchItem
    plan: AnalysisPlan
    worker: dict
    seconds: float  # probe, hash and faces
    faces_seconds: float  # decode and face detection alone


@dataclass(frozen=True)
class Computed:
    """A finished analysis, ready for the driver to save.  ``heatmap_png[i]`` holds the bytes of
    ``outcome.heatmaps[i]`` (written where the worker ran, then removed there: the driver writes them again)."""

    item: BatchItem
    plan: AnalysisPlan
    outcome: AnalysisOutcome
    heatmap_png: tuple[bytes, ...] = field(repr=False)
    worker: dict = field(default_factory=dict)


Settled = Refused | AlreadyDone | Computed


def worker_identity(**extra: str) -> dict:
    """Which process on which machine did the work (saved with the analysis)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), **extra}


def model_fingerprint(plan: AnalysisPlan) -> dict[str, str]:
    """The models a plan runs, by name, with their weights' SHA-256 (every node must run the same ones)."""
    return {card.name: card.weights_sha256 for card in plan.selection.usable}


def prepare(item: BatchItem, request: AnalysisRequest, models: dict[str, str] | None, identity: dict,
            cancel: Cancel = None) -> Prepared | Refused | AlreadyDone:
    """Probe, hash, verify and detect faces.  ``models``: the driver's model fingerprint, which this worker's
    installed models must match (None: not checked)."""
    started = time.perf_counter()
    try:
        check_readable_file(Path(item.path))  # the plain words for an empty, unreadable or special file (as intake)
        with OpenedEvidence(item.path) as evidence:  # probed, hashed and decoded through one descriptor
            return _prepare_opened(item, evidence, request, models, identity, cancel, started)
    except VideoError as exc:  # the file could not be opened
        return _refused(item, _without_path(str(exc), item.path))


def _prepare_opened(item: BatchItem, evidence: OpenedEvidence, request: AnalysisRequest,
                    models: dict[str, str] | None, identity: dict, cancel: Cancel,
                    started: float) -> Prepared | Refused | AlreadyDone:
    try:
        info = probe_video(evidence)
        digest = evidence.hash()
    except VideoError as exc:
        return _refused(item, _without_path(str(exc), item.path))
    except OSError as exc:
        return _refused(item, f"cannot be read ({exc.strerror or exc})")
    if item.expected_sha256 and digest != item.expected_sha256:
        return _refused(item, f"the file has changed since intake (SHA-256 {digest[:16]}… instead of "
                              f"{item.expected_sha256[:16]}…); it is not analysed", found_sha256=digest)
    if item.done_sha256 == digest:
        return AlreadyDone(item.path, digest)
    try:
        plan = plan_analysis(info, digest, request)
        _check_models(plan, models, identity)
        faces_started = time.perf_counter()
        run_to_end(extract_plan_faces(plan, request, cancel, evidence))
    except (AnalysisError, VideoError) as exc:
        return _refused(item, _without_path(str(exc), item.path))
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile file must never stop the batch
        return _refused(item, f"the analysis failed ({type(exc).__name__}: {exc})")
    now = time.perf_counter()
    return Prepared(item, plan, identity, now - started, now - faces_started)


def compute(prepared: Prepared, request: AnalysisRequest, cancel: Cancel = None) -> Computed | Refused:
    """Detectors, fusion and heat maps for a prepared file (its faces come from the crop cache)."""
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix="dfdesk-heatmaps-"))  # this worker's own; the driver places the PNGs
    try:
        outcome = run_to_end(compute_outcome(prepared.plan, request, staging, cancel))
        images = tuple(Path(h.path).read_bytes() for h in outcome.heatmaps)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a hostile file must never stop the batch
        return _refused(prepared.item, f"the analysis failed ({type(exc).__name__}: {exc})")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    total = prepared.seconds + time.perf_counter() - started
    timings = {**outcome.timings_s, "decode+faces": round(prepared.faces_seconds, 4), "total": round(total, 4)}
    outcome = replace(outcome, timings_s=timings)  # faces were detected in prepare (then read from the cache)
    return Computed(prepared.item, prepared.plan, outcome, images, prepared.worker)


def analyse(item: BatchItem, request: AnalysisRequest, models: dict[str, str] | None, identity: dict,
            cancel: Cancel = None) -> Settled:
    """``prepare`` then ``compute`` in this process (a Ray task, or a single local worker)."""
    prepared = prepare(item, request, models, identity, cancel)
    return compute(prepared, request, cancel) if isinstance(prepared, Prepared) else prepared


def place_heatmaps(computed: Computed, folder: Path) -> tuple[Heatmap, ...]:
    """Write the heat maps' PNGs into ``folder`` (the saved analysis's own) and return them pointing there."""
    folder.mkdir(parents=True, exist_ok=True)
    placed = []
    for heatmap, data in zip(computed.outcome.heatmaps, computed.heatmap_png):
        target = folder / Path(heatmap.path).name
        target.write_bytes(data)
        placed.append(replace(heatmap, path=str(target)))
    return tuple(placed)


def _check_models(plan: AnalysisPlan, expected: dict[str, str] | None, identity: dict) -> None:
    found = model_fingerprint(plan)
    if expected is not None and found != expected:
        differ = sorted(set(found.items()) ^ set(expected.items()))
        names = ", ".join(dict.fromkeys(name for name, _sha in differ))
        raise AnalysisError(f"{identity.get('host', 'this worker')} has other models installed than the driver "
                            f"({names}): results would not be comparable")


def _refused(item: BatchItem, reason: str, found_sha256: str | None = None) -> Refused:
    return Refused(item.path, reason, item.evidence_id, found_sha256)


def _without_path(message: str, path: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message
