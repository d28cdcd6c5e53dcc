"""Capacity as servers with a queue, so that contention shows as latency (DESIGN.md section 9).

A ``Station`` is one part of the system with limited concurrency (the database pool, the
gateway's concurrency, the shop's request workers) or none (``capacity=None``: every call
is served at once). It keeps the statistics queueing theory talks about, over an
observation window: how many calls arrived, how many had to wait and for how long, and the
time-average number of busy servers (utilisation, or L for an unlimited station).

The servers are a ``simpy.Resource`` without its events: SimPy schedules one event for every
request and one for every release, even when nobody waits, and every request of every buyer
passes through here. A station schedules an event only when someone has to be woken: a
queued caller when it is granted a server, and, when a server is released while callers
queue, the hand-over (SimPy's ``Release`` event, after which the first in the queue is
granted). Who gets a server, and when, is SimPy's: first come, first served, the queue's
first granted before a newcomer.

The buyer's impatience is the race of SimPy's ``bank_renege.py``: ``req | timeout(patience)``.
The request that lost the race is withdrawn, or it would stay queued and be granted to
nobody (it would hold a server for ever).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import simpy

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
        "_queue",
        "_users",
        "arrived",
        "capacity",
        "delayed",
        "env",
        "name",
        "reneged",
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
        self._users = 0  # servers granted and not yet released (0 without a capacity)
        self._queue: deque[simpy.Event] = deque()  # callers waiting for a server, in order
        self._draw: Callable[[], float] | None = None
        if service is not None:
            if rng is None:
                raise ValueError(f"{name}: a service time needs a random stream")
            self._draw = service.sampler(rng)
        self.window = window
        self.arrived = 0  # calls that arrived inside the window
        self.delayed = 0  # ... of which waited for a server
        self.reneged = 0  # ... of which gave up waiting
        self.wait_sum = 0.0
        self._busy = 0
        self._last = 0.0
        self._area = 0.0  # integral of busy servers over the window

    @property
    def in_use(self) -> int:
        """Servers granted and not yet released."""
        return self._users

    @property
    def queued(self) -> int:
        """Callers waiting for a server."""
        return len(self._queue)

    # -- the servers: SimPy's Resource, minus the events nobody waits for --------------------

    def _free(self) -> bool:
        """Take a server if SimPy would grant one at once: one is free and nobody queues."""
        capacity = self.capacity
        if capacity is None:
            return True
        if not self._queue and self._users < capacity:
            self._users += 1
            return True
        return False

    def _enqueue(self) -> simpy.Event:
        """Queue for a server; the event is triggered when it is granted.

        SimPy's ``Resource`` looks only at the head of its queue: a newcomer waits behind
        the callers queued before it, even while a server released a moment ago is still
        being handed over to the head.
        """
        waiting = self.env.event()
        self._queue.append(waiting)
        self._grant_head()
        return waiting

    def _grant_head(self, _: object = None) -> None:
        queue = self._queue
        if queue and self._users < self.capacity:  # type: ignore[operator]
            self._users += 1
            queue.popleft().succeed()

    def _free_server(self) -> None:
        if self.capacity is None:
            return
        self._users -= 1
        # SimPy's Release event, only when someone queues: the head is granted when it is
        # processed. (Without one, a caller who queues later at this same instant is handed
        # a server by the next release's event instead: granted at the same time, at worst
        # in another order among the events of that instant; tests/sim/test_sim_capacity.)
        if self._queue:
            handover = self.env.event()
            handover.callbacks.append(self._grant_head)
            handover.succeed()

    # -- one call ---------------------------------------------------------------------------

    def service_time(self) -> float:
        draw = self._draw
        return draw() if draw is not None else 0.0

    def take(self) -> bool:
        """Take a server if one is free and nobody queues, as ``acquire`` would at once.

        ``if not station.take(): yield from station.acquire(patience)`` is ``yield from
        station.acquire(patience)`` without making a generator in the common case, where
        nobody waits (every request of every buyer passes through here); ``acquire``
        starts with it.
        """
        if not self._free():
            return False
        now = self.env.now
        start, end = self.window
        if start <= now < end:
            self.arrived += 1  # ``_count(now)``: it waited no time
        self._change(now, 1)
        return True

    def acquire(self, patience: float | None = None) -> Wait:
        """Wait for a server, to hand back with ``release``.

        With a ``patience``, give up after that long: the request is withdrawn and
        ``Reneged`` raised.
        """
        if self.take():
            return
        env = self.env
        arrived = env.now
        waiting = self._enqueue()
        if patience is None:
            yield waiting
        else:
            yield waiting | env.timeout(patience)
            if not waiting.triggered:
                self._queue.remove(waiting)
                self._count(arrived, reneged=True)
                raise Reneged(self.name)
        self._granted(arrived)

    def acquire_or_leave(self, wait: float) -> Wait:
        """Wait at most ``wait`` for a server; returns whether one was granted.

        A caller that leaves is not the request: unlike ``acquire``'s impatient buyer, a
        client whose call timed out does not withdraw it from the server's queue (the
        gateway never learns that the shop gave up), so it is served when its turn comes,
        for a whole service time, and only then is its server released.
        """
        if self.take():
            return True
        env = self.env
        arrived = env.now
        waiting = self._enqueue()
        yield waiting | env.timeout(wait)
        if waiting.triggered:
            self._granted(arrived)
            return True
        waiting.callbacks.append(lambda _: self._serve_abandoned(arrived))
        return False

    def _granted(self, arrived: float) -> None:
        """A queued call that arrived at ``arrived`` got its server now."""
        self._count(arrived)
        self._change(self.env.now, 1)

    def _serve_abandoned(self, arrived: float) -> None:
        """A call whose caller left is granted a server: serve it, release it after."""
        self._granted(arrived)
        self.release_after(self.service_time())

    def release_after(self, duration: float) -> None:
        """Release the server ``duration`` from now, whatever its caller does meanwhile."""
        if duration > 0.0:
            self.env.timeout(duration).callbacks.append(lambda _: self.release())
        else:
            self.release()

    def release(self) -> None:
        self._change(self.env.now, -1)
        self._free_server()

    def serve(self, before: float = 0.0) -> Wait:
        """A whole call: wait ``before`` (the caller's own work), then for a server, hold it
        for one service time and release it.

        The statistics are inlined: every request of every buyer passes through here.
        """
        env = self.env
        if before > 0.0:
            yield env.timeout(before)
        arrived = env.now
        if not self._free():
            yield self._enqueue()
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
        self._free_server()

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
