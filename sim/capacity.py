"""Capacity as SimPy Resources, so that contention shows as latency (DESIGN.md section 9).

A ``Station`` is one part of the system with limited concurrency (the database pool, the
gateway's concurrency, the shop's request workers) or none (``capacity=None``: every call
is served at once). It keeps the statistics queueing theory talks about, over an
observation window: how many calls arrived, how many had to wait and for how long, and the
time-average number of busy servers (utilisation, or L for an unlimited station).

The buyer's impatience is the race of SimPy's ``bank_renege.py``: ``req | timeout(patience)``.
The request that lost the race is cancelled, or it would stay queued and be granted to
nobody (it would hold a server for ever).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import Any

import simpy
from simpy.resources.resource import Request

from scenarios.schema import Distribution
from sim.streams import BufferedRandom

Wait = Generator[simpy.Event, Any, Any]


class Reneged(Exception):
    """An impatient caller gave up waiting for a server."""


class Station:
    __slots__ = (
        "_area",
        "_busy",
        "_draw",
        "_last",
        "arrived",
        "capacity",
        "delayed",
        "env",
        "name",
        "reneged",
        "resource",
        "wait_sum",
        "window",
    )

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        capacity: int | None,
        service: Distribution | None,
        rng: BufferedRandom | None,
        window: tuple[float, float] = (0.0, float("inf")),
    ) -> None:
        if capacity is not None and capacity < 1:
            raise ValueError(f"{name}: capacity must be at least 1, not {capacity}")
        self.env = env
        self.name = name
        self.capacity = capacity
        self.resource = simpy.Resource(env, capacity) if capacity is not None else None
        self._draw: Callable[[], float] | None = None
        if service is not None:
            if rng is None:
                raise ValueError(f"{name}: a service time needs a random stream")
            self._draw = functools.partial(service.sample, rng)
        self.window = window
        self.arrived = 0  # calls that arrived inside the window
        self.delayed = 0  # ... of which waited for a server
        self.reneged = 0  # ... of which gave up waiting
        self.wait_sum = 0.0
        self._busy = 0
        self._last = 0.0
        self._area = 0.0  # integral of busy servers over the window

    # -- one call ---------------------------------------------------------------------------

    def service_time(self) -> float:
        draw = self._draw
        return draw() if draw is not None else 0.0

    def acquire(self, patience: float | None = None) -> Wait:
        """Wait for a server; return the request to hand back to ``release``.

        With a ``patience``, give up after that long: the request is cancelled and
        ``Reneged`` raised.
        """
        env = self.env
        arrived = env.now
        resource = self.resource
        request: Request | None = None
        if resource is not None:
            request = resource.request()
            if not request.triggered:  # queued: every server is busy
                if patience is None:
                    yield request
                else:
                    yield request | env.timeout(patience)
                    if not request.triggered:
                        request.cancel()
                        self._count(arrived, reneged=True)
                        raise Reneged(self.name)
        self._count(arrived)
        self._change(env.now, 1)
        return request

    def release(self, request: Request | None) -> None:
        self._change(self.env.now, -1)
        if request is not None:
            self.resource.release(request)  # type: ignore[union-attr]

    def serve(self, before: float = 0.0) -> Wait:
        """A whole call: wait ``before`` (the caller's own work), then for a server, hold it
        for one service time and release it.

        ``acquire``, ``release`` and the statistics are inlined: every request of every
        buyer passes through here.
        """
        env = self.env
        if before > 0.0:
            yield env.timeout(before)
        arrived = env.now
        resource = self.resource
        request: Request | None = None
        if resource is not None:
            request = resource.request()
            if not request.triggered:
                yield request
        now = env.now
        start, end = self.window
        if start <= arrived < end:
            self.arrived += 1
            if now > arrived:
                self.delayed += 1
                self.wait_sum += now - arrived
        draw = self._draw
        duration = draw() if draw is not None else 0.0
        if duration > 0.0:
            self._change(now, 1)
            yield env.timeout(duration)
            self._change(env.now, -1)
        if request is not None:
            resource.release(request)  # type: ignore[union-attr]

    # -- statistics -------------------------------------------------------------------------

    def _count(self, arrived: float, reneged: bool = False) -> None:
        start, end = self.window
        if start <= arrived < end:
            self.arrived += 1
            waited = self.env.now - arrived
            if waited > 0.0:
                self.delayed += 1
                self.wait_sum += waited
            if reneged:
                self.reneged += 1

    def _change(self, now: float, delta: int) -> None:
        start, end = self.window
        low = self._last if self._last > start else start
        high = now if now < end else end
        if high > low:
            self._area += self._busy * (high - low)
        self._last = now
        self._busy += delta

    def close(self, now: float) -> None:
        """Account for the time since the last change (call once, when the run ends)."""
        self._change(now, 0)

    def busy_mean(self) -> float:
        """Time-average number of calls in service over the window (L of the servers)."""
        start, end = self.window
        span = min(end, self._last) - start
        return self._area / span if span > 0 else 0.0

    def utilisation(self) -> float:
        """Share of the servers' time spent serving; for an unlimited station, L."""
        mean = self.busy_mean()
        return mean / self.capacity if self.capacity else mean

    def mean_wait(self) -> float:
        return self.wait_sum / self.arrived if self.arrived else 0.0

    def wait_probability(self) -> float:
        return self.delayed / self.arrived if self.arrived else 0.0
