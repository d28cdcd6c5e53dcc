"""Queueing theory, and an M/M/c queue built from the simulator's own parts.

The simulator is validated against theory (DESIGN.md section 9): a queue made of the same
``Station`` (servers granted as a SimPy Resource grants them, with a scenario
``Distribution`` as service time), the same ``poisson_arrivals`` and the same seeded
``RandomStreams`` as the purchase flow must give the mean wait and the probability of
waiting that Erlang's C formula gives.

    erlang_c(servers=3, arrival_rate=2.4, service_rate=1.0)  # P(wait) of M/M/3 at rho 0.8
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from scenarios.schema import Exponential
from sim.arrivals import poisson_arrivals
from sim.capacity import Station
from sim.errors import SimulationError
from sim.streams import RandomStreams


def utilisation(servers: int, arrival_rate: float, service_rate: float) -> float:
    if servers < 1:
        raise SimulationError(f"an M/M/c queue needs at least one server, not {servers}")
    if arrival_rate < 0 or service_rate <= 0:
        raise SimulationError(
            f"rates must be positive: arrival {arrival_rate:g}, service {service_rate:g}"
        )
    return arrival_rate / (servers * service_rate)


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> float:
    """The probability that an arrival waits, in steady state (Erlang C)."""
    rho = utilisation(servers, arrival_rate, service_rate)
    if rho >= 1:
        raise SimulationError(
            f"utilisation {rho:.3g} >= 1: an M/M/{servers} queue at arrival rate "
            f"{arrival_rate:g} and service rate {service_rate:g} has no steady state"
        )
    load = arrival_rate / service_rate  # offered load in Erlangs
    # Terms load**k / k! built one from the last, so that many servers do not overflow.
    term, total = 1.0, 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    last = term * load / servers / (1 - rho)
    return last / (total + last)


def mean_wait(servers: int, arrival_rate: float, service_rate: float) -> float:
    """Mean time in queue, Wq = C / (c mu - lambda)."""
    probability = erlang_c(servers, arrival_rate, service_rate)
    return probability / (servers * service_rate - arrival_rate)


@dataclass(frozen=True, slots=True)
class QueueRun:
    mean_wait: float
    wait_probability: float
    busy_mean: float  # time-average busy servers: lambda / mu by Little's law
    customers: int


def simulate_mmc(
    servers: int,
    arrival_rate: float,
    service_rate: float,
    *,
    customers: int,
    warmup: float,
    seed: int,
    replication: int,
) -> QueueRun:
    """One replication of M/M/c: customers arriving over ``warmup`` are not counted."""
    utilisation(servers, arrival_rate, service_rate)
    env = simpy.Environment()
    streams = RandomStreams.for_replication(seed, replication)
    horizon = warmup + customers / arrival_rate
    # The queue is the database pool's machinery: its Station, its stream, its arrivals.
    station = Station(
        env, "queue", servers, Exponential(dist="exponential", mean=1.0 / service_rate),
        streams["latency.database"], window=(warmup, horizon),
    )

    def arrive() -> None:
        env.process(station.serve())

    env.process(poisson_arrivals(env, arrival_rate, streams["arrivals"], arrive, horizon))
    env.run(until=horizon)
    station.close(horizon)
    return QueueRun(station.mean_wait(), station.wait_probability(), station.busy_mean(),
                    station.arrived)

