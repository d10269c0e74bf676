"""Batch work on a Ray cluster (``pip install dfdesk[cluster]``): one Ray task per video.

Each task reads the video by its absolute path from storage every node sees, probes it and verifies its SHA-256,
checks that its node runs the driver's models (same weights), analyses it with the product's engine and returns
the result, with the node that computed it, to the driver, which alone writes the case database.  A task whose
worker process or node dies is retried by Ray (``max_retries``) on whichever worker is free.  At most two tasks
per cluster CPU are in flight, so memory stays flat however many files the batch holds.
"""
from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

from dfdesk.services.analysis import AnalysisRequest
from dfdesk.services.batch_local import POLL_S, BatchCancelled
from dfdesk.services.batch_work import BatchItem, Refused, Settled, analyse, worker_identity

MAX_RETRIES = 3  # a task is run again this many times when its worker process or node dies
TASKS_PER_CPU = 2


class RayUnavailable(Exception):
    """Ray is not installed, or the cluster cannot be reached (one readable line)."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install 'dfdesk[cluster]'") from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast, in one line, when a host:port address does not answer (Ray itself retries for minutes)."""
    if address == "auto":
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except ValueError:
        raise RayUnavailable(f"--ray takes 'auto' or a Ray cluster's host:port, not {address!r}") from None
    except OSError as exc:
        raise RayUnavailable(f"cannot join the Ray cluster at {address!r}: {exc.strerror or exc}") from None


def node_identity() -> dict:
    """The Ray node, host and process that computed a result (recorded with the analysis)."""
    import ray

    context = ray.get_runtime_context()
    return worker_identity(mode="ray", node_id=context.get_node_id(), ip=ray.util.get_node_ip_address())


def _analyse_on_node(item: BatchItem, request: AnalysisRequest, models: dict[str, str]) -> Settled:
    return analyse(item, request, models, node_identity())


class RayExecutor:
    """Joins a cluster (``address``: "auto" for the one this machine belongs to, or host:port), or uses the
    Ray session this process already started."""

    def __init__(self, address: str, request: AnalysisRequest, models: dict[str, str]):
        self._ray = ray = _import_ray()
        self.request, self.models = request, models
        self._owns_session = not ray.is_initialized()
        if self._owns_session:
            check_reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="error")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RayUnavailable(f"cannot join the Ray cluster at {address!r}: {_first_line(exc)}") from None
        self._task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)(_analyse_on_node)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.window = max(1, TASKS_PER_CPU * cpus)
        self._pending: dict = {}
        nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
        self.description = f"Ray cluster: {nodes} node(s), {cpus} CPU(s)"

    def results(self, items: Iterator[BatchItem], cancel: Callable[[], bool] | None = None
                ) -> Iterator[Settled]:
        """Every item's outcome, in the order they finish."""
        ray, exhausted = self._ray, False
        while True:
            if cancel is not None and cancel():
                raise BatchCancelled()
            while not exhausted and len(self._pending) < self.window:
                item = next(items, None)
                if item is None:
                    exhausted = True
                else:
                    self._pending[self._task.remote(item, self.request, self.models)] = item
            if not self._pending:
                return
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=POLL_S)
            for ref in ready:
                yield self._collect(ref)

    def _collect(self, ref) -> Settled:
        item = self._pending.pop(ref)
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayError as exc:  # the task's workers died MAX_RETRIES + 1 times
            return Refused(item.path, f"the Ray task failed ({_first_line(exc)})", item.evidence_id)

    def close(self) -> None:
        for ref in self._pending:
            self._ray.cancel(ref, force=True)
        self._pending.clear()
        if self._owns_session:
            self._ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
