"""What the users will do, decided from the scenario (``load/plan.py``): pure, no Locust."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from load.config import Burst, LoadConfig, OpenWorkload, Stage, parse_duration
from load.plan import (
    ARRIVE,
    LEAVE,
    RESOLUTION,
    arrival_offsets,
    closed_stages,
    draw_basket,
    expected_refusals,
    funnel_chain,
    funnel_steps,
    mix_weights,
    open_stages,
)
from scenarios import load_scenario
from scenarios.baskets import LinePicker
from scenarios.schema import Funnel, IntRange, StockEntry
from tests.load.conftest import SCENARIO


def reach_shares(chain: dict[str, dict[str, int]]) -> dict[str, float]:
    """The share of sessions reaching each state, walking the chain's probabilities from
    its first state, where sessions start."""
    state = next(iter(chain))
    shares = {state: 1.0}
    while True:
        onward = [(s, w) for s, w in chain[state].items() if s != LEAVE]
        if not onward:
            return shares
        nxt, weight = onward[0]
        shares[nxt] = shares[state] * weight / sum(chain[state].values())
        state = nxt


def test_the_markov_chain_reproduces_the_funnel_shares() -> None:
    funnel = Funnel(browse=1.0, view=0.6, add=0.25, checkout=0.15, pay=0.12)
    chain = funnel_chain(funnel_steps(funnel, hosted=True))
    shares = reach_shares(chain)
    for step, share in funnel.steps():
        assert shares[step] == pytest.approx(share, abs=2 / RESOLUTION)
    assert chain["pay"] == {LEAVE: 1}
    # Everyone browses: sessions start at browse, without a silent arrive state.
    assert next(iter(chain)) == "browse" and ARRIVE not in chain


def test_synchronous_payment_checks_out_only_those_who_would_pay() -> None:
    funnel = Funnel(browse=1.0, view=1.0, add=0.5, checkout=0.4, pay=0.2)
    steps = funnel_steps(funnel, hosted=False)
    assert [name for name, _ in steps] == ["browse", "view", "add", "checkout"]
    assert reach_shares(funnel_chain(steps))["checkout"] == pytest.approx(0.2)


def test_a_browsing_session_stops_after_view_and_unreached_steps_are_left_out() -> None:
    funnel = Funnel(browse=1.0, view=0.5, add=0.0, checkout=0.0, pay=0.0)
    browse = funnel_chain(funnel_steps(funnel, hosted=True), last="view")
    assert set(browse) == {"browse", "view", LEAVE}
    assert set(funnel_chain(funnel_steps(funnel, hosted=True))) == set(browse)
    assert browse["browse"] == {"view": 500, LEAVE: 500}


def test_bouncing_buyers_leave_from_arrive() -> None:
    chain = funnel_chain([("browse", 0.7), ("view", 0.7)])
    assert next(iter(chain)) == ARRIVE
    assert chain[ARRIVE] == {"browse": 700, LEAVE: 300}
    assert reach_shares(chain)["view"] == pytest.approx(0.7)


def test_mix_weights_default_to_tpcw_and_keep_their_ratio() -> None:
    scenario = load_scenario(SCENARIO)
    assert mix_weights(scenario) == {"browse": 500, "order": 500}  # the scenario's "ordering"
    assert mix_weights(scenario, "browsing") == {"browse": 950, "order": 50}
    assert mix_weights(scenario, "shopping") == {"browse": 800, "order": 200}


def stock_of(*entries: tuple[str, str, float]) -> LinePicker:
    return LinePicker([StockEntry(variant=v, location=loc, quantity=1, popularity=p)
                       for v, loc, p in entries])


def test_a_basket_has_distinct_variants_and_quantities_in_range() -> None:
    stock = stock_of(("a", "x", 1), ("a", "y", 1), ("b", "x", 1), ("c", "x", 1))
    rng = random.Random(1)
    sizes = Counter()
    for _ in range(200):
        basket = draw_basket(stock, IntRange(min=1, max=5), IntRange(min=2, max=3), rng)
        variants = [v for v, _, _ in basket]
        assert 1 <= len(basket) <= 3 and len(set(variants)) == len(variants)
        assert all(2 <= q <= 3 for _, _, q in basket)
        sizes[len(basket)] += 1
    assert set(sizes) == {1, 2, 3}  # up to one line per variant, however many were drawn


def test_a_basket_takes_the_popular_entries_in_proportion() -> None:
    """``catalog.stock[].popularity``: a hot item nine times as popular as the other."""
    stock = stock_of(("hot", "x", 9), ("cold", "x", 1))
    rng = random.Random(7)
    picked = Counter(
        draw_basket(stock, IntRange(min=1, max=1), IntRange(min=1, max=1), rng)[0][0]
        for _ in range(4000)
    )
    assert 0.87 < picked["hot"] / 4000 < 0.93


def test_refusals_the_flows_document_and_gateway_outages() -> None:
    calm = expected_refusals(gateway_faults=False)
    assert "insufficient_inventory" in calm["add_to_cart"]
    assert {"items_unavailable", "price_changed", "account_inactive"} <= calm["create_order"]
    assert "gateway_unavailable" not in calm["create_order"]
    stormy = expected_refusals(gateway_faults=True)
    assert "gateway_unavailable" in stormy["create_order"]
    assert "gateway_unavailable" in stormy["get_payment_link"]


def test_poisson_arrivals_have_the_rate_and_split_across_processes() -> None:
    offsets = list(arrival_offsets(50, [], 100, random.Random(3)))
    assert offsets == sorted(offsets) and all(0 <= t < 100 for t in offsets)
    assert len(offsets) == pytest.approx(5000, rel=0.05)
    parts = [list(arrival_offsets(50, [], 100, random.Random(i), share=4, index=i))
             for i in range(4)]
    assert sum(map(len, parts)) == pytest.approx(5000, rel=0.05)


def test_bursts_are_split_exactly_and_stay_inside_the_run() -> None:
    bursts = [Burst(at=10, buyers=101, over=5), Burst(at=58, buyers=10, over=10)]
    parts = [list(arrival_offsets(0, bursts, 60, random.Random(i), share=3, index=i))
             for i in range(3)]
    times = [t for part in parts for t in part]
    in_first = [t for t in times if 10 <= t < 15]
    assert len(in_first) == 101
    assert all(t < 60 for t in times) and len(times) < 111  # the second burst is cut off
    assert Counter(len([t for t in p if t < 15]) for p in parts) == Counter({34: 2, 33: 1})


def test_constant_arrivals_are_evenly_spaced_and_staggered() -> None:
    one = list(arrival_offsets(2, [], 3, random.Random(0), poisson=False))
    assert one == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    a, b = (list(arrival_offsets(2, [], 2, random.Random(0), poisson=False, share=2, index=i))
            for i in range(2))
    assert sorted(a + b) == [0.0, 0.5, 1.0, 1.5]


def test_stages_of_the_closed_and_open_workloads() -> None:
    assert closed_stages(10, 5, 60) == (Stage(60, 10, 5),)
    assert closed_stages(10, 5, 60, [(30, 10, 2), (60, 50, 5), (30, 0, 10)]) == (
        Stage(30, 10, 2), Stage(90, 50, 5), Stage(120, 0, 10))
    stages, start_after = open_stages(25, 10, 60)
    assert start_after == 3 and stages == (Stage(63, 25, 10),)


def test_the_config_survives_its_trip_through_json() -> None:
    config = LoadConfig(url="http://127.0.0.1:1", scenario="s.yaml", buyers=("a", "b"),
                        auth={"a": {"Authorization": "Bearer x"}},
                        stages=(Stage(10, 3, 1.5),),
                        open=OpenWorkload(rate=2, run_time=10, start_after=1,
                                          bursts=(Burst(1, 2, 3),), poisson=False),
                        max_sessions=4)
    assert LoadConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1m30s", 90), ("0.5", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5 minutes", "1d", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
