"""The same seed gives the same summary, however the runs are spread over processes."""

from __future__ import annotations

import math

from sim import Experiment, run_experiment, simulate
from sim.report import summary_json
from tests.sim.conftest import small_flash_sale


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def test_same_seed_same_metrics() -> None:
    scenario = small_flash_sale("on_payment")
    first, second = simulate(scenario, seed=5), simulate(scenario, seed=5)
    assert _same(first.metrics, second.metrics)
    assert first.confirmation_times == second.confirmation_times
    assert first.events == second.events


def test_another_seed_or_replication_differs() -> None:
    scenario = small_flash_sale("on_payment")
    base = simulate(scenario, seed=5).metrics
    assert not _same(base, simulate(scenario, seed=6).metrics)
    assert not _same(base, simulate(scenario, seed=5, replication=1).metrics)


def test_recording_the_trace_changes_nothing() -> None:
    scenario = small_flash_sale("reserve")
    quiet, traced = simulate(scenario, seed=3), simulate(scenario, seed=3, tracing=True)
    assert _same(quiet.metrics, traced.metrics)
    assert quiet.trace is None and traced.trace


def test_summary_is_identical_in_one_or_two_processes() -> None:
    experiment = Experiment(small_flash_sale("reserve"), replications=3, seed=11)
    local = summary_json(run_experiment(experiment, workers=1))
    pooled = summary_json(run_experiment(experiment, workers=2))
    local.pop("timing"), pooled.pop("timing")
    assert local == pooled
