"""The open workload: buyers arrive at a target rate, whether or not the shop keeps up.

Locust's users are a closed workload: a user starts its next session only when the last
one ended, so a slow shop slows the arrivals down and its slowness goes unmeasured
(coordinated omission). Here a pool of users (k6's VUs) waits at an ``ArrivalGate``; a
dispatcher greenlet opens the gate once per arrival, at the scheduled instant. When no
user is free at that instant the arrival is dropped and counted (k6's
``dropped_iterations``); when the process itself is too busy to dispatch on time, the
start lag shows it. Both are in the run's metrics and the summary.

Imported only by the locustfile (gevent).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import gevent
from gevent.queue import Queue

from load.metrics import RunMetrics, round_ms


class ArrivalGate:
    def __init__(self, metrics: RunMetrics) -> None:
        self._metrics = metrics
        self._tickets: Queue[float] = Queue()
        self._idle = 0
        self._dispatcher: gevent.Greenlet[..., None] | None = None

    def take(self) -> None:
        """Block until an arrival is dispatched to this user (it then starts a session)."""
        self._idle += 1
        try:
            due = self._tickets.get()
        finally:
            self._idle -= 1
        self._metrics.started += 1
        self._metrics.lag_ms[round_ms((time.monotonic() - due) * 1000)] += 1

    def start(self, offsets: Iterator[float], start_after: float) -> None:
        if self._dispatcher is None:
            self._dispatcher = gevent.spawn(self._dispatch, offsets,
                                            time.monotonic() + start_after)

    def stop(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)
            self._dispatcher = None

    def _dispatch(self, offsets: Iterator[float], origin: float) -> None:
        metrics = self._metrics
        for offset in offsets:
            due = origin + offset
            delay = due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            metrics.scheduled += 1
            # Users blocked in take() and not yet handed a ticket are free.
            if self._idle > self._tickets.qsize():
                self._tickets.put_nowait(due)
            else:
                metrics.dropped += 1
