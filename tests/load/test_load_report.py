"""Locust's results read back, thresholds judged, the run's own metrics merged (pure)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from load.metrics import CpuClock, RunMetrics, percentile, round_ms
from load.report import (
    DEFAULT_FAILURE_THRESHOLD,
    RunStats,
    Threshold,
    step_of,
    with_default_thresholds,
)


def entry(name: str, times: dict[int, int], failures: int = 0, start: float = 100.0,
          end: float = 110.0) -> dict[str, Any]:
    requests = sum(times.values())
    return {"name": name, "method": "GET", "num_requests": requests, "num_failures": failures,
            "response_times": {str(k): v for k, v in times.items()},
            "total_response_time": sum(k * v for k, v in times.items()),
            "max_response_time": max(times), "start_time": start,
            "last_request_timestamp": end}


STATS = RunStats.from_entries([
    entry("create_order", {10: 90, 200: 10}, failures=2),
    entry("create_order [items_unavailable]", {5: 20}),
    entry("list_products", {3: 100}, start=99, end=109),
])


def test_refusals_are_grouped_under_their_step() -> None:
    assert step_of("create_order [items_unavailable]") == ("create_order", "items_unavailable")
    assert step_of("create_order") == ("create_order", None)
    order = STATS.steps["create_order"]
    assert order.requests == 120 and order.failures == 2
    assert order.refusals == Counter({"items_unavailable": 20})
    assert list(STATS.steps) == ["list_products", "create_order"]  # the flow's order
    assert STATS.total.requests == 220 and STATS.total.refused == 20
    assert STATS.duration == 11


def test_percentiles_merge_the_histograms_as_locust_computes_them() -> None:
    order = STATS.steps["create_order"]
    assert order.percentile(0.5) == 10
    assert order.percentile(0.95) == 200
    assert order.percentile(0.10) == 5
    assert percentile({}, 0.5) == 0
    assert [round_ms(x) for x in (4.4, 123.0, 1234.0)] == [4, 120, 1200]


@pytest.mark.parametrize(("text", "step", "metric", "op", "limit"), [
    ("create_order:p95<500ms", "create_order", "p95", "<", 500),
    ("add_to_cart:p99.9 <= 1.5s", "add_to_cart", "p99.9", "<=", 1500),
    ("failures<1%", None, "failures", "<", 0.01),
    ("p95<800", None, "p95", "<", 800),
    ("view_product:rps>=5", "view_product", "rps", ">=", 5),
    ("dropped<0.05", None, "dropped", "<", 0.05),
])
def test_thresholds_parse(text: str, step: str | None, metric: str, op: str,
                          limit: float) -> None:
    t = Threshold.parse(text)
    assert (t.step, t.metric, t.op, t.limit) == (step, metric, op, pytest.approx(limit))


@pytest.mark.parametrize(("text", "problem"), [
    ("p95", "is not [STEP:]METRIC<VALUE"),
    ("checkout:p95<5", "unknown step 'checkout'"),
    ("create_order:latency<5", "unknown metric 'latency'"),
    ("rps<5ms", "rps is not a time"),
    ("p95<5%", "p95 is not a ratio"),
    ("p0<5", "percentile must be in (0, 100]"),
    ("create_order:dropped<0.1", "dropped is a figure of the whole run"),
])
def test_bad_thresholds_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        Threshold.parse(text)
    assert problem in str(caught.value)


def test_thresholds_are_judged_and_no_data_is_a_breach() -> None:
    metrics = RunMetrics(scheduled=100, dropped=7)
    judged = {t: Threshold.parse(t).judge(STATS, metrics) for t in (
        "create_order:p95<=200", "create_order:p50<10", "failures<1%", "failures<2%",
        "list_products:rps>9", "dropped<0.05", "view_order:p95<1000")}
    verdicts = {t: r.ok for t, r in judged.items()}
    assert verdicts == {
        "create_order:p95<=200": True, "create_order:p50<10": False,
        "failures<1%": True,  # 2 of 220 is 0.9%
        "failures<2%": True, "list_products:rps>9": True, "dropped<0.05": False,
        "view_order:p95<1000": False}
    assert judged["view_order:p95<1000"].shown_value() == "no data"
    assert judged["dropped<0.05"].shown_value() == "7.00%"


def test_the_default_failure_threshold_unless_one_is_given() -> None:
    assert [t.text for t in with_default_thresholds([])] == [DEFAULT_FAILURE_THRESHOLD]
    mine = [Threshold.parse("failures<5%")]
    assert with_default_thresholds(mine) == mine
    step_only = [Threshold.parse("create_order:failures<5%")]
    assert len(with_default_thresholds(step_only)) == 2


def test_metrics_merge_across_processes() -> None:
    a = RunMetrics(scheduled=10, started=8, dropped=2, lag_ms=Counter({1: 7, 50: 1}),
                   cpu_seconds=1.5, processes=1,
                   retries=Counter({"sent": 3, "recovered": 1, "ran_out": 1}))
    a.session_ended("order", "paid")
    b = RunMetrics.from_json(a.to_json())
    b.session_ended("order", "declined")
    merged = RunMetrics.merge([a, b])
    assert merged.sessions["order"] == Counter({"paid": 2, "declined": 1})
    assert (merged.scheduled, merged.started, merged.dropped) == (20, 16, 4)
    assert merged.lag_ms == Counter({1: 14, 50: 2}) and merged.processes == 2
    assert merged.cpu_seconds == pytest.approx(3.0) and merged.dropped_ratio == 0.2
    assert merged.lag_percentile(0.99) == 50
    assert merged.retries == Counter({"sent": 6, "recovered": 2, "ran_out": 2})


def test_the_cpu_clock_counts_from_test_start_to_test_stop_only() -> None:
    clock = CpuClock()
    assert clock.seconds() == 0.0  # not started: setup is not the load's
    clock.start()
    busy_until = time.process_time() + 0.05
    while time.process_time() < busy_until:
        pass
    clock.stop()
    during = clock.seconds()
    assert during >= 0.04
    busy_until = time.process_time() + 0.05
    while time.process_time() < busy_until:  # the reports, after the load
        pass
    assert clock.seconds() == during
