"""Retrying a unit of work that lost an optimistic-concurrency race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reference_impl.service.ports import ConcurrentUpdate
from reference_impl.service.tracing import Trace

T = TypeVar("T")

MAX_ATTEMPTS = 20


def retry_on_conflict(
    unit: Callable[[], T], attempts: int = MAX_ATTEMPTS, *, trace: Trace | None = None
) -> T:
    """Run ``unit`` again while it raises ConcurrentUpdate (it re-reads everything it needs).

    ``trace``: the one ``unit`` records into; a lost attempt's messages are taken back.
    """
    for _ in range(attempts - 1):
        mark = trace.mark() if trace is not None else 0
        try:
            return unit()
        except ConcurrentUpdate:
            if trace is not None:
                trace.rewind(mark)
            continue
    return unit()
