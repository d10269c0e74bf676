"""Driving the app's long-running generators (face extraction, analysis) to their return value."""
from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TypeVar

Event = TypeVar("Event")
Result = TypeVar("Result")


def run_to_end(steps: Generator[Event, None, Result], on_event: Callable[[Event], object] | None = None) -> Result:
    """Run ``steps`` to completion, handing each yielded event to ``on_event``; return the generator's value."""
    while True:
        try:
            event = next(steps)
        except StopIteration as done:
            return done.value
        if on_event is not None:
            on_event(event)
