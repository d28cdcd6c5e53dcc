"""One replication of a scenario: build the model, run it, measure it.

    result = simulate(load_scenario("scenarios/library/flash_sale_reserve.yaml"), seed=1)
    result.metrics["oversold_units"]

Arrivals stop at ``run.duration``; the run then goes on until nothing is left to happen
(every buyer gone, every webhook delivered or given up, every reservation expired), so
every order observed has its final status. ``until`` stops it earlier, at that time
exactly: events due at ``until`` itself are still processed, which ``env.run(until=...)``
alone would not do.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import simpy

from reference_impl.domain.policies import PaymentMode, StockCommitPoint
from reference_impl.domain.trace import TraceEvent, TraceRecorder
from scenarios.schema import Scenario
from sim.arrivals import burst_arrivals, poisson_arrivals
from sim.background import expiry_worker, mail_worker
from sim.buyer import BuyerPlanner, session
from sim.capacity import Station
from sim.gateway import Gateway
from sim.invariants import CHECKED, Violation, find_violations
from sim.metrics import measure
from sim.observations import Observations
from sim.shop import Shop
from sim.streams import RandomStreams
from sim.warmup import run_series, series_horizon
from sim.webhooks import WebhookSender


@dataclass(slots=True)
class RunResult:
    replication: int
    seed: int
    metrics: dict[str, float]
    confirmation_times: list[float]
    violations: list[Violation]
    ended_at: float
    events: int
    cpu_seconds: float
    #: The run's full actor-to-actor trace, when it was recorded (``tracing=True``).
    trace: list[TraceEvent] | None = None
    point: int = 0
    #: Occupancy over time for the warm-up check (``series=True``; ``sim.warmup``).
    series: dict[str, list[float]] | None = None


class Model:
    """The processes and state of one run; ``simulate`` builds, runs and measures it."""

    def __init__(
        self, scenario: Scenario, *, seed: int, replication: int, tracing: bool = False
    ) -> None:
        self.scenario = scenario
        self.env = env = simpy.Environment()
        self.streams = streams = RandomStreams.for_replication(seed, replication)
        self.recorder = TraceRecorder() if tracing else None
        self.obs = Observations()
        run = scenario.run
        self.window = (run.warmup, run.duration)
        self.shop = shop = Shop(env, scenario, streams, self.obs, self.recorder, self.window)
        self.gateway = gateway = Gateway(env, scenario, streams, self.obs, shop, self.window)
        shop.gateway = gateway
        policies = shop.policies
        if policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
            gateway.webhooks = WebhookSender(env, scenario, streams, self.obs, shop, gateway)
        self.planner = planner = BuyerPlanner(scenario, streams)

        exposes = scenario.profile.exposes
        browse, view = exposes.browse, exposes.view
        later = exposes.checkout_link == "fetched_later"

        def arrive() -> None:
            env.process(session(shop, planner, browse, view, later))

        arrivals = scenario.buyers.arrivals
        env.process(poisson_arrivals(env, arrivals.rate, streams["arrivals"], arrive,
                                     run.duration))
        for burst in arrivals.bursts:
            env.process(burst_arrivals(env, burst, streams["bursts"], arrive))
        if policies.reservation_ttl is not None:
            env.process(expiry_worker(shop))
        if policies.send_confirmation_email:
            env.process(mail_worker(shop, scenario.latency.mail, streams["latency.mail"]))

    @property
    def stations(self) -> tuple[Station, ...]:
        return (self.shop.workers, self.shop.database, self.gateway.station)

    def run(self, until: float | None = None) -> None:
        env = self.env
        if until is None:
            env.run()
            return
        if until > env.now:
            env.run(until=until)
        while env.peek() == until:
            env.step()

    def events_scheduled(self) -> int:
        # SimPy numbers every scheduled event from one counter (Environment._eid).
        counter = getattr(self.env, "_eid", None)
        return next(counter) if counter is not None else 0


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    replication: int = 0,
    until: float | None = None,
    tracing: bool = False,
    series: bool = False,
) -> RunResult:
    """Run replication ``replication`` of ``scenario`` (seed: ``run.seed`` unless given);
    ``series``: also record occupancy over time, for the warm-up check."""
    seed = scenario.run.seed if seed is None else seed
    started = time.process_time()
    model = Model(scenario, seed=seed, replication=replication, tracing=tracing)
    model.run(until)
    env, shop = model.env, model.shop
    end = env.now
    for station in model.stations:
        station.close(end)
    store = shop.uow.store
    metrics, confirmations = measure(
        model.obs, store, shop.policies, model.stations, model.window, end
    )
    lags = [lag for _, lag in model.obs.webhook_lag]
    checked = [i for i in scenario.invariants_to_check() if i in CHECKED]
    violations = find_violations(
        store, shop.policies, checked, model.obs.emails, end, max(lags, default=0.0)
    )
    metrics["violations"] = len(violations)
    for invariant in CHECKED:
        metrics[f"violations_{invariant}"] = sum(v.invariant == invariant for v in violations)
    events = model.events_scheduled()
    metrics["events"] = events
    return RunResult(
        replication=replication,
        seed=seed,
        metrics={k: (math.nan if v is None else float(v)) for k, v in metrics.items()},
        confirmation_times=confirmations,
        violations=violations,
        ended_at=end,
        events=events,
        cpu_seconds=time.process_time() - started,
        trace=list(model.recorder.events) if model.recorder is not None else None,
        series=(
            run_series(
                model.obs, list(store.orders.values()),
                shop.policies.stock_commit is StockCommitPoint.RESERVE,
                series_horizon(scenario.run.duration, end),
            )
            if series and end > 0 else None
        ),
    )
