"""What the model does: the purchase flow's behaviours, faults and SimPy's pitfalls."""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from reference_impl.domain.order_status import OrderStatus
from sim import Experiment, estimate, parse_axis, run_experiment, simulate
from sim.model import Model
from sim.observations import SessionEnd
from tests.sim.conftest import library_scenario, seed_scenario, small_flash_sale


def test_until_processes_the_events_due_at_that_time() -> None:
    # env.run(until=t) alone leaves events due exactly at t unprocessed.
    model = Model(small_flash_sale(), seed=1, replication=0)
    seen: list[float] = []

    def at(env: simpy.Environment, t: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(t)
        seen.append(env.now)

    model.env.process(at(model.env, 15.0))
    model.run(until=15.0)
    assert seen == [15.0] and model.env.now == 15.0


def test_a_run_goes_on_until_every_order_is_settled() -> None:
    result = simulate(small_flash_sale("reserve"), seed=4)
    assert result.metrics["orders_pending_payment"] == 0
    assert result.ended_at > 200  # past the arrivals: the last reservations expired later


def test_impatient_buyers_leave_and_their_requests_are_withdrawn() -> None:
    # One worker, slow requests, buyers who leave after about a second of queueing.
    scenario = small_flash_sale(
        capacity__workers=1,
        latency__orders={"dist": "fixed", "value": 0.5},
        latency__inventory={"dist": "fixed", "value": 0.2},
        buyers__abandonment={"probability": 1.0, "patience": {"dist": "fixed", "value": 1.0}},
    )
    model = Model(scenario, seed=3, replication=0)
    model.run()
    workers = model.shop.workers
    assert model.obs.ended.count(SessionEnd.ABANDONED) > 50
    assert workers.reneged > 50
    assert workers.queued == 0 and workers.in_use == 0


def test_reservations_expire_exactly_at_their_ttl() -> None:
    scenario = small_flash_sale("reserve", buyers__funnel={"browse": 1, "view": 1, "add": 1,
                                                            "checkout": 1, "pay": 0})
    model = Model(scenario, seed=5, replication=0)
    model.run()
    ttl = scenario.profile.policies.reservation_ttl
    assert ttl is not None
    orders = list(model.shop.uow.store.orders.values())
    assert orders and all(o.status is OrderStatus.CANCELLED for o in orders)
    assert all(math.isclose(o.history[-1].at, o.created_at + ttl, abs_tol=0.1) for o in orders)


def test_expired_reservations_lose_sales_and_on_payment_oversells() -> None:
    experiment = Experiment(small_flash_sale("reserve"), replications=3, seed=21,
                            compare=parse_axis("stock_commit=reserve,on_payment"))
    result = run_experiment(experiment)
    reserve, on_payment = result.summaries
    assert reserve["lost_sales"].mean > 0 and reserve["oversold_units"].mean == 0
    assert on_payment["oversold_units"].mean > 0 and on_payment["lost_sales"].mean == 0
    assert on_payment["refunds"].mean == on_payment["orders_refunded"].mean
    # No policy sells more than the stock (I1): sold units never exceed those received.
    for summary in result.summaries:
        assert summary["units_sold"].mean <= summary["units_received"].mean
        assert summary["violations"].mean == 0


def test_common_random_numbers_make_paired_differences_tighter() -> None:
    experiment = Experiment(small_flash_sale("on_payment"), replications=6, seed=31,
                            compare=parse_axis("decline_rate=0.05,0.2"))
    result = run_experiment(experiment, workers=2)
    # The same buyers arrive at both points.
    assert result.values(0, "sessions") == result.values(1, "sessions")
    (comparison,) = result.comparisons
    paired = comparison.differences["orders_payment_failed"]
    low, high = result.values(0, "orders_payment_failed"), result.values(1, "orders_payment_failed")
    unpaired_half_width = math.hypot(estimate(low).half_width, estimate(high).half_width)
    assert paired.mean > 0 and paired.low > 0
    assert paired.half_width < unpaired_half_width


def test_webhook_faults_are_survived() -> None:
    scenario = library_scenario("webhook_storm", run__duration=600, run__warmup=60)
    result = simulate(scenario, seed=8)
    m = result.metrics
    assert m["webhook_attempts_per_event"] > 2  # duplicates, drop-first and retries
    assert m["webhook_rejected"] > 0  # stale and forged signatures, answered 400
    assert m["violations"] == 0  # ... and none of it broke an invariant


def test_a_gateway_outage_delays_confirmations() -> None:
    scenario = library_scenario("gateway_outage", run__duration=1200, run__warmup=60,
                                faults__gateway__outages=[{"start": 300, "end": 600}])
    experiment = Experiment(scenario, replications=3, seed=12,
                            compare=parse_axis("faults.gateway.outages=[],"
                                               "[{start: 300, end: 600}]"))
    result = run_experiment(experiment)
    calm, outage = result.summaries
    assert outage["gateway_errors"].mean > calm["gateway_errors"].mean
    assert outage["confirmation_p99"].mean > 2 * calm["confirmation_p99"].mean


def test_a_gateway_slower_than_the_clients_timeout_is_a_timeout() -> None:
    """``profile.gateway_client``: every charge takes 6 s; a client that waits 5 s gives up
    on every try (three, 0.1 and 0.2 s apart), one that waits 7 s is answered."""
    def run(timeout: float) -> dict[str, float]:
        scenario = seed_scenario(
            "002", run__duration=600, run__warmup=0,
            latency__gateway={"dist": "fixed", "value": 6.0},
            profile__gateway_client={"timeout": timeout, "retries": 2},
        )
        return simulate(scenario, seed=2).metrics

    impatient, patient = run(5.0), run(7.0)
    assert impatient["gateway_errors"] > 0 and impatient["orders_paid"] == 0
    assert patient["gateway_errors"] == 0 and patient["orders_paid"] > 0
    assert math.isnan(impatient["confirmation_p50"])  # nothing was ever confirmed
    assert 6.0 <= patient["confirmation_p50"] < 10.0  # answered on the first try


def test_synchronous_payment_confirms_inside_checkout() -> None:
    result = simulate(seed_scenario("002", run__duration=900, run__warmup=0), seed=2)
    m = result.metrics
    assert m["orders_paid"] > 0 and math.isnan(m["webhook_lag_mean"])
    assert m["confirmation_p99"] < 10  # the charge's latency, no buyer in between


def test_inactive_accounts_are_refused() -> None:
    scenario = seed_scenario("000", run__duration=900, run__warmup=0,
                             buyers__inactive_share=0.5)
    assert simulate(scenario, seed=2).metrics["sessions_refused"] > 0


def test_buyers_put_the_popular_item_in_their_carts_in_proportion() -> None:
    """``catalog.stock[].popularity``: the hot variant nine times as popular as the other,
    with stock enough for everyone, so what each sold follows what buyers picked."""
    products = [{"id": f"{v}-console", "name": v, "variants": [{"id": v, "price": 1000}]}
                for v in ("hot", "cold")]
    scenario = small_flash_sale(
        "at_order",
        catalog__products=products,
        catalog__stock=[
            {"variant": "hot", "location": "main", "quantity": 10_000, "popularity": 9},
            {"variant": "cold", "location": "main", "quantity": 10_000},
        ],
    )
    model = Model(scenario, seed=3, replication=0)
    model.run()
    taken = {variant: 10_000 - level.on_hand
             for (variant, _), level in model.shop.uow.store.stock.items()}
    assert sum(taken.values()) > 150
    assert 0.85 < taken["hot"] / sum(taken.values()) < 0.95
