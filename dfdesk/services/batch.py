"""Batch triage: many videos (folders, files, or a whole case) analysed with the default ensemble, on this
machine or on a Ray cluster.

``run_batch`` is the driver, a generator like ``run_analysis``: it hands the files to an executor (local worker
processes, or Ray tasks), saves each finished video in one transaction as it arrives (it is the database's only
writer), and yields a :class:`VideoSettled` per file and a ``Progress`` ("batch": done/total, rate) after each.
Videos already analysed the same way are skipped, so a re-run after a crash or a kill -9 finishes the batch
without duplicates.  The triage table is read from the database afterwards (``batch_triage``).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from dfdesk.core.types import Progress
from dfdesk.services import batch_store
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.batch_inputs import BatchInputError, check_inputs, list_files
from dfdesk.services.batch_local import BatchCancelled, LocalExecutor
from dfdesk.services.batch_work import AlreadyDone, BatchItem, Computed, Settled
from dfdesk.services.model_selection import SelectionError, select_models
from dfdesk.store.database import Database

STAGE = "batch"
ANALYSED, SKIPPED, REFUSED = "analysed", "skipped", "refused"


class BatchError(Exception):
    """The batch cannot start (bad input, unknown model, no cluster); one readable line."""


@dataclass(frozen=True)
class BatchOptions:
    case: str
    inputs: tuple[str, ...] = ()  # files and folders; none: the case's own evidence
    recursive: bool = False
    workers: int | None = None  # local worker processes (default: one per core, as memory allows)
    split: bool | None = None  # local: faces in the workers, inference in one process (default: on a GPU only)
    ray: str | None = None  # "auto" or a cluster address: run on Ray instead of local processes
    request: AnalysisRequest = field(default_factory=AnalysisRequest)


@dataclass(frozen=True)
class VideoSettled:
    """One file's fate, as soon as it is known (and saved, when analysed)."""

    path: str
    status: str  # analysed | skipped | refused
    detail: str  # the refusal's reason, or why it was skipped, or the verdict label
    analysis_id: int | None = None
    fake_probability: float | None = None
    node: str = ""


@dataclass
class BatchSummary:
    case_id: int
    case_name: str
    total: int
    executor: str
    analysed: int = 0
    skipped: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return self.analysed + self.skipped + len(self.refused)


def run_batch(db: Database, options: BatchOptions, actor: str, cancel: Callable[[], bool] | None = None,
              ) -> Generator[Progress | VideoSettled, None, BatchSummary]:
    """Triage every file of ``options``; BatchError before anything runs when the batch cannot start,
    BatchCancelled when ``cancel`` turns true (what finished is saved)."""
    started = time.monotonic()
    _check(options)
    executor = _executor(options, _driver_models(options.request))
    try:
        case_id, items = _items(db, options, actor)
        summary = BatchSummary(case_id, options.case, len(items), executor.description)
        yield Progress(STAGE, 0, summary.total, f"{summary.total} file(s): {executor.description}")
        for result in executor.results(iter(items), cancel):
            settled = _settle(db, case_id, result, options.request, actor, summary)
            summary.seconds = time.monotonic() - started
            yield settled
            yield Progress(STAGE, summary.done, summary.total, _progress_text(summary))
    finally:
        executor.close()
    summary.seconds = time.monotonic() - started
    return summary


def _check(options: BatchOptions) -> None:
    """Refuse a batch that cannot run before anything is written."""
    if options.workers is not None and options.workers < 1:
        raise BatchError("--workers must be at least 1")
    try:
        check_inputs(options.inputs)
    except BatchInputError as exc:
        raise BatchError(str(exc)) from None


def _items(db: Database, options: BatchOptions, actor: str) -> tuple[int, list[BatchItem]]:
    """The case (created for files and folders; it must exist to triage its own evidence) and what to analyse."""
    if not options.inputs:
        case_id = batch_store.existing_case(db, options.case)
        return case_id, batch_store.case_items(db, case_id, options.request)
    case_id = batch_store.open_case(db, options.case, actor)
    done = batch_store.done_paths(db, case_id, options.request)
    items = [BatchItem(path, done_sha256=done.get(path)) for path in list_files(options.inputs, options.recursive)]
    return case_id, items


def _driver_models(request: AnalysisRequest) -> dict[str, str]:
    """The models this machine runs, with their weights' hashes: every worker must run the same ones."""
    try:
        return {card.name: card.weights_sha256 for card in select_models(request.models).usable}
    except SelectionError as exc:
        raise BatchError(str(exc)) from None


def _executor(options: BatchOptions, models: dict[str, str]):
    if options.ray:
        from dfdesk.services.batch_ray import RayExecutor, RayUnavailable

        try:
            return RayExecutor(options.ray, options.request, models)
        except RayUnavailable as exc:
            raise BatchError(str(exc)) from None
    return LocalExecutor(options.workers, options.request, models, options.split)


def _settle(db: Database, case_id: int, result: Settled, request: AnalysisRequest, actor: str,
            summary: BatchSummary) -> VideoSettled:
    if isinstance(result, Computed):
        saved = batch_store.save_computed(db, case_id, result, request, actor)
        node = result.worker.get("host", "")
        if not saved.created:
            summary.skipped += 1
            return VideoSettled(result.item.path, SKIPPED, "the same bytes were already analysed in this case",
                                saved.analysis_id, node=node)
        summary.analysed += 1
        verdict = result.outcome.verdict
        return VideoSettled(result.item.path, ANALYSED, verdict.label, saved.analysis_id, verdict.fake_probability,
                            node)
    if isinstance(result, AlreadyDone):
        summary.skipped += 1
        return VideoSettled(result.path, SKIPPED, "already analysed")
    batch_store.record_refusal(db, case_id, result, actor)
    summary.refused.append((result.path, result.reason))
    return VideoSettled(result.path, REFUSED, result.reason)


def _progress_text(summary: BatchSummary) -> str:
    rate = summary.done / summary.seconds * 60 if summary.seconds > 0 else 0.0
    return (f"{summary.done}/{summary.total}: {summary.analysed} analysed, {summary.skipped} skipped, "
            f"{len(summary.refused)} refused · {rate:.1f} videos/min")


__all__ = ["ANALYSED", "REFUSED", "SKIPPED", "BatchCancelled", "BatchError", "BatchOptions", "BatchSummary",
           "VideoSettled", "run_batch"]
