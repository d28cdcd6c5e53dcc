"""Simulated purchases against the seed sequence diagrams (DESIGN.md section 7).

The simulator records the same actor-to-actor trace as the reference implementation, so a
scenario's diagram can check every simulated buyer: each buyer's trace (correlation id: its
cart) is checked at the shop's boundary (``black_box=True``), to the end for a buyer whose
payment was settled and as a prefix for one who stopped on the way.

Where a seed draws less than a run does, the run is narrowed to what it draws: seeds 002
and 003 draw one "Add to cart" (no loop), so their buyers take one line; seed 000 draws no
refused "Add to cart", so its buyers refused a line are left out (and counted).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from reference_impl.domain.trace import Actor, TraceEvent
from sim import simulate
from tests.sim.conftest import seed_scenario

CASES: dict[str, dict[str, Any]] = {
    "000": {},  # hosted checkout, link fetched later, stock at order
    "001": {},  # hosted checkout, generic webhook, stock on payment
    "004": {},  # hosted checkout, Stripe webhook, reserve
    "002": {"buyers__lines": {"min": 1, "max": 1}},  # synchronous charge, variants, locations
    "003": {"buyers__lines": {"min": 1, "max": 1}},  # synchronous charge, browse and view
}


def _by_buyer(events: list[TraceEvent]) -> dict[str, list[TraceEvent]]:
    buyers: dict[str, list[TraceEvent]] = defaultdict(list)
    for event in events:
        buyers[event.correlation_id].append(event)
    return buyers


def _settled(events: list[TraceEvent], hosted: bool) -> bool:
    if hosted:
        return any(e.message == "payment_webhook" and e.source == Actor.GATEWAY for e in events)
    return any(e.message == "create_order" and e.target == Actor.BUYER for e in events)


@pytest.mark.parametrize("number", sorted(CASES))
def test_every_simulated_purchase_follows_the_seed_diagram(number: str) -> None:
    scenario = seed_scenario(number, run__duration=900, run__warmup=0, **CASES[number])
    hosted = scenario.profile.policies.payment_mode == "hosted_checkout"
    result = simulate(scenario, seed=3, tracing=True)
    assert result.trace
    checked = settled = left_out = 0
    for cart_id, events in _by_buyer(result.trace).items():
        if not any(e.message == "create_order" for e in events):
            continue  # browsed only: nothing the checkout diagrams draw
        if number == "000" and any(e.message == "insufficient_inventory" for e in events):
            left_out += 1
            continue
        complete = _settled(events, hosted)
        verdict = scenario.check_trace(events, black_box=True, complete=complete)
        assert verdict.ok, f"buyer {cart_id}: {verdict.reason}"
        checked += 1
        settled += complete
    assert checked > 20 and settled > 10, (checked, settled)
    assert left_out < checked


def test_a_trace_out_of_order_is_caught() -> None:
    # The checker is not vacuous on simulated traces: swap the gateway's answer and the
    # request for the checkout session, and seed 004's diagram refuses the purchase.
    scenario = seed_scenario("004", run__duration=600, run__warmup=0)
    result = simulate(scenario, seed=3, tracing=True)
    assert result.trace
    events = next(
        e for e in _by_buyer(result.trace).values() if _settled(e, hosted=True)
    )
    asked = next(i for i, e in enumerate(events) if e.target == Actor.GATEWAY)
    answered = next(i for i, e in enumerate(events) if e.source == Actor.GATEWAY)
    events[asked], events[answered] = events[answered], events[asked]
    verdict = scenario.check_trace(events, black_box=True)
    assert not verdict.ok and "create_checkout_session" in verdict.reason
