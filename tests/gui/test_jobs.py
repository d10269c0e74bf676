"""The worker and the job queue, driven by small real generators written here."""
from __future__ import annotations

import threading

import pytest

from dfdesk.core.types import Progress
from dfdesk.gui.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, EtaEstimator, JobQueue


def counting(n: int):
    def run(ctx):
        for i in range(n):
            yield Progress("count", i + 1, n, f"item {i}")
        return "counted"
    return run


def gated(gate: threading.Event, ticks: list):
    """Yields until the gate opens (or it is cancelled between yields)."""
    def run(ctx):
        while not gate.wait(0.005):
            ticks.append(1)
            yield Progress("waiting", len(ticks), 0)
        return "opened"
    return run


def record(job) -> list:
    seen = []
    job.progress.connect(lambda p: seen.append(("progress", p.done)))
    job.event.connect(lambda e: seen.append(("event", e)))
    job.done.connect(lambda v: seen.append(("done", v)))
    job.failed.connect(lambda m: seen.append(("failed", m)))
    job.cancelled.connect(lambda: seen.append(("cancelled",)))
    job.finished.connect(lambda: seen.append(("finished",)))
    return seen


def test_signals_arrive_in_order_and_end_with_finished(qtbot, jobs: JobQueue):
    job = jobs.submit("count", counting(5))
    seen = record(job)
    with qtbot.waitSignal(job.finished, timeout=5000):
        pass
    assert seen == [("progress", i) for i in range(1, 6)] + [("done", "counted"), ("finished",)]
    assert job.state == DONE and job.result == "counted"


def test_other_yields_come_as_events_in_order(qtbot, jobs: JobQueue):
    def run(ctx):
        yield "a"
        ctx.report("from a callback")
        yield "b"
    job = jobs.submit("events", run)
    seen = record(job)
    qtbot.waitUntil(lambda: ("finished",) in seen, timeout=5000)
    assert seen == [("event", "a"), ("event", "from a callback"), ("event", "b"), ("done", None), ("finished",)]


def test_an_exception_becomes_one_readable_message(qtbot, jobs: JobQueue):
    def run(ctx):
        yield Progress("x", 0, 1)
        raise ValueError("the file is not a video\nsecond line that is not shown")
    job = jobs.submit("broken", run)
    seen = record(job)
    with qtbot.waitSignal(job.finished, timeout=5000):
        pass
    assert ("failed", "the file is not a video") in seen and job.state == FAILED
    assert seen[-1] == ("finished",)


def test_cancel_stops_the_generator_between_yields(qtbot, jobs: JobQueue):
    gate, ticks = threading.Event(), []
    closed = []

    def run(ctx):
        try:
            yield from gated(gate, ticks)(ctx)
        finally:
            closed.append(True)
    job = jobs.submit("forever", run)
    seen = record(job)
    qtbot.waitUntil(lambda: len(ticks) > 2, timeout=5000)
    with qtbot.waitSignal(job.finished, timeout=5000):
        jobs.cancel(job)
    assert job.state == CANCELLED and closed == [True]
    assert seen[-2:] == [("cancelled",), ("finished",)]
    assert not any(s[0] == "done" for s in seen)


def test_gpu_jobs_run_one_at_a_time_in_submission_order(qtbot, jobs: JobQueue):
    gate, ticks = threading.Event(), []
    first = jobs.submit("first", gated(gate, ticks), gpu=True)
    second = jobs.submit("second", counting(2), gpu=True)
    io_job = jobs.submit("io", counting(1))
    with qtbot.waitSignal(io_job.finished, timeout=5000):
        pass
    assert first.state == RUNNING and second.state == QUEUED  # the io job did not wait for the GPU
    order = []
    first.finished.connect(lambda: order.append("first"))
    second.state_changed.connect(lambda s: order.append(f"second {s}"))
    with qtbot.waitSignal(second.finished, timeout=5000):
        gate.set()
    assert order == ["first", "second running", "second done"]


def test_cancelling_a_queued_job_never_starts_it(qtbot, jobs: JobQueue):
    gate, ticks = threading.Event(), []
    first = jobs.submit("first", gated(gate, ticks), gpu=True)
    second = jobs.submit("second", counting(2), gpu=True)
    seen = record(second)
    jobs.cancel(second)
    assert second.state == CANCELLED and seen == [("cancelled",), ("finished",)]
    with qtbot.waitSignal(first.finished, timeout=5000):
        gate.set()
    assert jobs.active_count() == 0


def test_shutdown_cancels_running_jobs_and_waits_for_their_threads(qtbot):
    queue = JobQueue()
    gate, ticks = threading.Event(), []
    started = [queue.submit(f"job {i}", gated(gate, ticks), gpu=i < 2) for i in range(3)]
    endings = [record(job) for job in started]
    qtbot.waitUntil(lambda: len(ticks) > 3, timeout=5000)
    assert queue.shutdown(5000)
    assert queue.active_count() == 0
    assert [job.state for job in started] == [CANCELLED] * 3
    assert all(seen[-2:] == [("cancelled",), ("finished",)] for seen in endings)


@pytest.mark.parametrize("steps,expected", [([(0, 0.0), (5, 1.0)], 1.0), ([(0, 0.0), (10, 2.0)], 0.0)])
def test_eta_from_the_rate_of_the_current_stage(steps, expected):
    times = iter(t for _, t in steps)
    eta = EtaEstimator(clock=lambda: next(times))
    results = [eta.update(Progress("s", done, 10)) for done, _ in steps]
    assert results[0] is None and results[-1] == pytest.approx(expected)
