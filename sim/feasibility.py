"""Is the steady state a scenario asks for possible? (utilisation below 1 at every station)

A scenario with ``run.warmup > 0`` asks for steady-state estimates: the warm-up is thrown
away so that what remains is the long-run behaviour. With a Poisson arrival rate that
offers a station more work than its servers can do (utilisation ``rho >= 1``), the queue
grows without bound and there is no steady state to estimate; the run would only measure
how long it lasted. Such a scenario is refused before it runs.

The offered load is the mean work a buyer brings to the station (the funnel's shares times
the mean latency of each call) times the arrival rate, over the station's capacity. Bursts
are transients, not a steady load, and are left out.
"""

from __future__ import annotations

from scenarios.schema import Distribution, Scenario
from sim.errors import SimulationError


def _mean(dist: Distribution | None) -> float:
    return float(dist.mean) if dist is not None else 0.0


def offered_load(scenario: Scenario) -> dict[str, float]:
    """Utilisation per finite station (``workers``, ``database``, ``gateway``) at the
    scenario's Poisson rate."""
    lat, exposes = scenario.latency, scenario.profile.exposes
    policies = scenario.profile.policies
    browse, view, add, checkout, pay = (share for _, share in scenario.buyers.funnel.steps())
    hosted = policies.payment_mode.value == "hosted_checkout"
    lines = (scenario.buyers.lines.min + scenario.buyers.lines.max) / 2
    db, gateway = _mean(lat.database), _mean(lat.gateway)

    def work(*names: str) -> float:
        return sum(_mean(getattr(lat, name)) for name in names) + db

    ordered = checkout if hosted else pay
    # (requests per arriving buyer, worker seconds per request) for each kind of request
    requests = [
        (browse if exposes.browse else 0.0, work("catalog")),
        (view if exposes.view else 0.0, work("catalog")),
        (add * lines, work("cart", "catalog", "inventory")),
        (ordered, work("orders", "cart", "accounts", "inventory") + gateway + db),
    ]
    gateway_calls = ordered
    if hosted:
        webhook = scenario.faults.webhook
        copies = 1.0 + (webhook.duplicate_rate * webhook.duplicates if webhook else 0.0)
        requests.append((pay * copies, work("payments", "orders")))
        gateway_calls += pay
    rate = scenario.buyers.arrivals.rate
    capacity = scenario.capacity
    load = {
        "workers": (rate * sum(n * t for n, t in requests), capacity.workers),
        "database": (rate * db * (sum(n for n, _ in requests) + ordered), capacity.database_pool),
        "gateway": (rate * gateway * gateway_calls, capacity.gateway_concurrency),
    }
    return {name: work_rate / servers for name, (work_rate, servers) in load.items() if servers}


_CAPACITY_FIELD = {
    "workers": "capacity.workers",
    "database": "capacity.database_pool",
    "gateway": "capacity.gateway_concurrency",
}


def require_steady_state(scenario: Scenario) -> None:
    """Raise when ``run.warmup`` asks for a steady state that cannot exist."""
    if scenario.run.warmup <= 0:
        return  # a transient study (a flash sale): queues may grow, that is the question
    for station, rho in offered_load(scenario).items():
        if rho >= 1.0:
            raise SimulationError(
                f"{station} utilisation would be {rho:.2f} (>= 1) at buyers.arrivals.rate "
                f"{scenario.buyers.arrivals.rate:g}: its queue grows without bound, so the "
                f"steady state run.warmup asks for does not exist; raise "
                f"{_CAPACITY_FIELD[station]} or lower the rate"
            )
