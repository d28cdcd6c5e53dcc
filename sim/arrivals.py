"""Arrival processes: a Poisson stream and flash-sale bursts (scenario ``buyers.arrivals``).

Each process calls ``arrive()`` once per arrival, at its time; the caller decides what an
arrival is (a buyer session, or a customer of a test queue).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from scenarios.schema import Burst
from sim.streams import BufferedRandom


def poisson_arrivals(
    env: simpy.Environment,
    rate: float,
    rng: BufferedRandom,
    arrive: Callable[[], object],
    end: float,
    limit: int | None = None,
) -> Generator[simpy.Event, Any, None]:
    """Arrivals with exponential gaps of mean ``1 / rate`` until ``end`` (or ``limit`` of them)."""
    if rate <= 0:
        return
    mean_gap = 1.0 / rate
    count = 0
    while limit is None or count < limit:
        gap = rng.exponential(mean_gap)
        if env.now + gap >= end:
            return
        yield env.timeout(gap)
        arrive()
        count += 1


def burst_arrivals(
    env: simpy.Environment,
    burst: Burst,
    rng: BufferedRandom,
    arrive: Callable[[], object],
) -> Generator[simpy.Event, Any, None]:
    """``burst.buyers`` arrivals spread uniformly at random over [at, at + over)."""
    # ``take`` hands out the same numbers as as many ``random()`` calls, in one call.
    times = sorted(burst.at + burst.over * u for u in rng.take(burst.buyers))
    for at in times:
        delay = at - env.now
        if delay > 0.0:
            yield env.timeout(delay)
        arrive()
