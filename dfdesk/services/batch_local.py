"""Batch work on this machine; the driver (the caller) receives the results and alone writes the database.

Two layouts.  **Split** (the default on a GPU): decoding and face detection in N worker processes, detectors,
fusion and heat maps in one inference process that owns the device; the stages hand over through the on-disk crop
cache (a worker detects and crops a video's faces into it, and the inference process, running the product's own
analysis on the same plan, finds them there).  **Whole** (the default on the CPU): each of N workers analyses
whole videos.  On 2 cores both layouts finish the same number of videos per minute (bench/RESULTS.md, "Batch
triage"); on more cores a single CPU inference process would cap the batch, while whole workers scale.

Processes are spawned (never forked: PyTorch and Qt do not survive a fork).  A worker that dies (a decoder crash,
the OOM killer) breaks its pool: the pool is rebuilt and the videos it held are retried one at a time, so the file
that kills a worker twice is listed as refused and the batch goes on.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from dfdesk import paths
from dfdesk.core.pipeline import Cancelled
from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.batch_work import (
    BatchItem,
    Prepared,
    Refused,
    Settled,
    analyse,
    compute,
    prepare,
    worker_identity,
)
from dfdesk.services.devices import resolve_device

POLL_S = 0.25  # how often the driver looks at its cancel flag while it waits for results
WORKER_MEMORY_BYTES = 1.5 * 2**30  # resident size of one worker running the default ensemble (bench/batch.py)
_stop = None  # in a worker process: the batch's stop event (set by the driver to cancel)


class BatchCancelled(Exception):
    """The batch was cancelled; what had finished is saved."""


def default_workers(split: bool) -> int:
    """Worker processes when none is asked for: one per core (one fewer when an inference process runs beside
    them), and no more than half the memory holds (a worker keeps the default ensemble resident)."""
    cores = os.cpu_count() or 1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(cores - 1 if split else cores, int(memory / 2 // WORKER_MEMORY_BYTES)))


def torch_threads(processes: int) -> int:
    """Threads per process so that the processes together use every core once (at least one each)."""
    return max(1, (os.cpu_count() or 1) // max(1, processes))


def _start_worker(stop, threads: int, data_dir: str) -> None:
    """A spawned worker: the batch's stop event, its share of the cores, and the parent's data folder (crop
    cache, installed models), handed over here because a spawned process does not inherit it."""
    global _stop
    _stop = stop
    paths.choose_data_dir(data_dir)
    import torch

    torch.set_num_threads(threads)


def _stopped() -> bool:
    return _stop is not None and _stop.is_set()


def _prepare_task(item: BatchItem, request: AnalysisRequest, models: dict[str, str] | None):
    return prepare(item, request, models, worker_identity(mode="local"), _stopped)


def _compute_task(prepared: Prepared, request: AnalysisRequest):
    return compute(prepared, request, _stopped)


def _analyse_task(item: BatchItem, request: AnalysisRequest, models: dict[str, str] | None):
    return analyse(item, request, models, worker_identity(mode="local"), _stopped)


@dataclass
class _Task:
    item: BatchItem
    call: tuple  # (function, *arguments)
    crashes: int = 0


class _Stage:
    """A process pool that runs at most ``size`` tasks at once (none waits inside the pool, so a broken pool
    names exactly the tasks that were running), and recovers from a dead worker."""

    MAX_CRASHES = 2

    def __init__(self, size: int, context, stop, threads: int):
        self.size, self._context, self._stop, self._threads = size, context, stop, threads
        self.running: dict[Future, _Task] = {}
        self.suspects: deque[_Task] = deque()  # held by a pool that broke: run alone until cleared
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.size, mp_context=self._context, initializer=_start_worker,
                                   initargs=(self._stop, self._threads, str(paths.user_data_dir())))

    def has_room(self) -> bool:
        return not self.suspects and len(self.running) < self.size

    def submit(self, task: _Task) -> None:
        function, *arguments = task.call
        try:
            future = self._pool.submit(function, *arguments)
        except BrokenProcessPool:  # a worker died while idle: nothing was lost, start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            future = self._pool.submit(function, *arguments)
        self.running[future] = task

    def feed_suspects(self) -> None:
        if self.suspects and not self.running:
            self.submit(self.suspects.popleft())

    def settle(self, future: Future) -> Settled | Prepared | None:
        """The result of a finished task; None when its pool broke (its tasks are then retried or refused)."""
        task = self.running.pop(future)
        try:
            return future.result()
        except BrokenProcessPool:
            return self._recover(task)
        except Cancelled:
            raise BatchCancelled() from None
        except Exception as exc:  # noqa: BLE001 - a task's failure is that file's, never the batch's
            return Refused(task.item.path, f"the worker failed ({type(exc).__name__}: {exc})", task.item.evidence_id)

    def _recover(self, task: _Task) -> Refused | None:
        """A worker died.  When it held this task alone, the task is charged with the crash (refused at the
        second); tasks that shared the pool are not, and each is retried alone to find the culprit."""
        lost = [task, *self.running.values()]
        self.running.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        if len(lost) == 1:
            task.crashes += 1
            if task.crashes >= self.MAX_CRASHES:
                return Refused(task.item.path, "the worker process died while analysing this file, twice "
                               "(a decoder crash or not enough memory)", task.item.evidence_id)
        self.suspects.extend(lost)
        return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def split_by_default(request: AnalysisRequest) -> bool:
    """Split the stages when the analysis runs on a GPU; whole videos per worker on the CPU."""
    try:
        return resolve_device(request.device) == "cuda"
    except ValueError:
        return False  # a device that cannot be used: every worker will refuse with the reason


class LocalExecutor:
    """``workers`` processes: face detection feeding one inference process (split), or whole analyses."""

    BACKLOG = 2  # prepared videos waiting for inference, at most (bounds the crop cache and memory in flight)

    def __init__(self, workers: int | None, request: AnalysisRequest, models: dict[str, str] | None,
                 split: bool | None = None):
        self.request, self.models = request, models
        self.split = split_by_default(request) if split is None else split
        workers = workers or default_workers(self.split)
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        threads = torch_threads(workers + 1 if self.split else workers)
        self._faces = _Stage(workers, context, self._stop, threads)
        self._inference = _Stage(1, context, self._stop, threads)
        self.description = (f"{workers} face worker(s) and 1 inference process on this machine" if self.split
                            else f"{workers} worker process(es) on this machine")

    def results(self, items: Iterator[BatchItem], cancel: Callable[[], bool] | None = None
                ) -> Iterator[Settled]:
        """Every item's outcome, in the order they finish."""
        waiting: deque[Prepared] = deque()
        exhausted = False
        while True:
            if cancel is not None and cancel():
                raise BatchCancelled()
            exhausted = self._feed(items, waiting, exhausted)
            futures = {**self._faces.running, **self._inference.running}
            if not futures and not waiting and exhausted:
                return
            done, _ = wait(futures, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                yield from self._settle(future, waiting)

    def _feed(self, items: Iterator[BatchItem], waiting: deque[Prepared], exhausted: bool) -> bool:
        for stage in (self._faces, self._inference):
            stage.feed_suspects()
        while waiting and self._inference.has_room():
            prepared = waiting.popleft()
            self._inference.submit(_Task(prepared.item, (_compute_task, prepared, self.request)))
        while not exhausted and self._faces.has_room() and len(waiting) < self.BACKLOG:
            item = next(items, None)
            if item is None:
                return True
            task = ((_prepare_task, item, self.request, self.models) if self.split
                    else (_analyse_task, item, self.request, self.models))
            self._faces.submit(_Task(item, task))
        return exhausted

    def _settle(self, future: Future, waiting: deque[Prepared]) -> Iterator[Settled]:
        stage = self._faces if future in self._faces.running else self._inference
        if future not in stage.running:
            return  # a task of a pool that broke: already retried
        result = stage.settle(future)
        if isinstance(result, Prepared):
            waiting.append(result)
        elif result is not None:
            yield result

    def close(self) -> None:
        """Stop the workers at their next safe point and wait for them."""
        self._stop.set()
        self._faces.close()
        self._inference.close()
