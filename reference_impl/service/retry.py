"""Retrying a unit of work that lost an optimistic-concurrency race."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reference_impl.service.ports import ConcurrentUpdate

T = TypeVar("T")

MAX_ATTEMPTS = 20


def retry_on_conflict(unit: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``unit`` again while it raises ConcurrentUpdate (it re-reads everything it needs)."""
    for _ in range(attempts - 1):
        try:
            return unit()
        except ConcurrentUpdate:
            continue
    return unit()
