"""``Station`` grants servers as ``simpy.Resource`` would, without its idle events.

The same callers (arrival, holding time, patience) go through a ``Station`` and through a
plain SimPy ``Resource`` written the way SimPy's ``bank_renege.py`` does it; who gets a
server, when, and who gives up must be the same. Times lie on a coarse grid, so that
arrivals, releases and give-ups often fall on the same instant, where the order in which
SimPy processes its events decides.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from sim.capacity import Reneged, Station

Caller = tuple[float, float, float | None, int]  # arrives at, holds for, patience, visits
Log = list[tuple[float, int, str]]  # (time, caller, what)


def _callers(seed: int, count: int = 300) -> list[Caller]:
    # Several visits in a row (a buyer adding lines one request each) ask again at the
    # instant they release, while the server they gave back is being handed over.
    rng = random.Random(seed)
    return [
        (rng.randint(0, 60) / 4, rng.randint(0, 8) / 4, rng.choice([None, 0.0, 0.5, 1.0, 2.5]),
         rng.choice([1, 1, 2, 3]))
        for _ in range(count)
    ]


def _run(callers: list[Caller], visit: Callable[..., Generator[simpy.Event, Any, None]],
         make: Callable[[simpy.Environment], Any]) -> Log:
    env = simpy.Environment()
    servers = make(env)
    log: Log = []
    for i, caller in enumerate(callers):
        env.process(visit(env, servers, i, caller, log))
    env.run()
    return log


def _with_resource(env: simpy.Environment, resource: simpy.Resource, i: int, caller: Caller,
                   log: Log) -> Generator[simpy.Event, Any, None]:
    at, hold, patience, visits = caller
    yield env.timeout(at)
    for _ in range(visits):
        request = resource.request()
        if not request.triggered:
            yield request if patience is None else request | env.timeout(patience)
            if not request.triggered:
                request.cancel()
                log.append((env.now, i, "reneged"))
                return
        log.append((env.now, i, "granted"))
        yield env.timeout(hold)
        resource.release(request)


def _with_station(env: simpy.Environment, station: Station, i: int, caller: Caller,
                  log: Log) -> Generator[simpy.Event, Any, None]:
    at, hold, patience, visits = caller
    yield env.timeout(at)
    for _ in range(visits):
        try:
            yield from station.acquire(patience)
        except Reneged:
            log.append((env.now, i, "reneged"))
            return
        log.append((env.now, i, "granted"))
        yield env.timeout(hold)
        station.release()


@pytest.mark.parametrize("servers", [1, 2, 5])
@pytest.mark.parametrize("seed", range(4))
def test_a_station_grants_servers_as_a_simpy_resource_does(servers: int, seed: int) -> None:
    callers = _callers(seed)
    expected = _run(callers, _with_resource, lambda env: simpy.Resource(env, servers))
    station: list[Station] = []

    def make(env: simpy.Environment) -> Station:
        station.append(Station(env, "servers", servers, None, None))
        return station[0]

    assert _run(callers, _with_station, make) == expected
    assert any(what == "reneged" for _, _, what in expected)  # the race was exercised
    assert station[0].queued == 0 and station[0].in_use == 0
