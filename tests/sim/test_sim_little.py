"""Little's law on the simulated purchase flow: buyers in the shop L = lambda * W.

L is the time-average number of buyers in the shop over the observation window, lambda the
rate of arrivals in it and W their mean session time; the two sides are measured
separately (an integral over time against a mean over buyers), so they agree only if the
model's bookkeeping of arrivals, departures and time is right.
"""

from __future__ import annotations

from sim import Experiment, estimate, run_experiment
from tests.sim.conftest import library_scenario

REPLICATIONS = 5


def test_buyers_in_the_shop_obey_littles_law() -> None:
    scenario = library_scenario("steady_mix", run__duration=1200, run__warmup=300)
    result = run_experiment(Experiment(scenario, replications=REPLICATIONS, seed=77), workers=2)
    gaps = []
    for in_shop, lambda_w in zip(result.values(0, "in_shop_mean"),
                                 result.values(0, "little_lambda_w"), strict=True):
        gaps.append((in_shop - lambda_w) / lambda_w)
    gap = estimate(gaps)
    assert estimate(result.values(0, "in_shop_mean")).mean > 5  # a busy shop, not a trivial one
    # Edge effects (sessions straddling the window's ends) are the only difference.
    assert abs(gap.mean) < 0.01 and (gap.covers(0.0) or abs(gap.high) < 0.02), gap


def test_busy_servers_equal_arrival_rate_times_service_time() -> None:
    # Little's law on a station: the gateway serves each buyer's payment and checkout
    # session; with unlimited concurrency its mean busy count is lambda_calls * E[latency].
    scenario = library_scenario("steady_mix", run__duration=1200, run__warmup=300,
                                capacity__gateway_concurrency=None)
    result = run_experiment(Experiment(scenario, replications=REPLICATIONS, seed=78), workers=2)
    busy = estimate(result.values(0, "gateway_utilisation"))  # L when unlimited
    assert busy.mean > 0
    # Both sides per replication: calls / window * mean latency.
    latency = scenario.latency.gateway
    assert latency is not None
    window = scenario.run.duration - scenario.run.warmup
    expected = [
        (run.metrics["orders"] + run.metrics["sessions_paid"]) / window * latency.mean
        for run in result.runs[0]
    ]
    assert estimate([b - e for b, e in zip(result.values(0, "gateway_utilisation"), expected,
                                            strict=True)]).covers(0.0)
