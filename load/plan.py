"""What the Locust users will do, decided from the scenario, apart from Locust (pure, tested).

* ``funnel_chain``: the funnel as the transition table of a ``MarkovTaskSet``;
* ``mix_weights``: the session kinds' task weights (TPC-W's mixes by default);
* ``draw_basket``: the lines an order session puts in its cart;
* ``EXPECTED_REFUSALS``: the refusals a scenario expects, counted as successes under their
  own request name;
* ``arrival_offsets``, ``closed_stages``, ``open_stages``: the load's shape.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from load.config import Burst, Stage
from scenarios.baskets import LinePicker

if TYPE_CHECKING:
    from scenarios.schema import Funnel, IntRange, Scenario

#: Markov transitions take integer weights; a probability p becomes round(p * RESOLUTION).
RESOLUTION = 1000

#: States of a session besides the funnel's steps: ``arrive`` is where a session starts
#: when some buyers leave before the first step (no request), ``leave`` ends it.
ARRIVE = "arrive"
LEAVE = "leave"

#: The request names (``HttpCall.op``) the users send; thresholds may name any of them.
OPERATIONS = (
    "list_products",
    "view_product",
    "create_cart",
    "add_to_cart",
    "create_order",
    "get_payment_link",
    "complete_payment",
    "view_order",
)

#: Refusals the flows document, by operation: a buyer turned away is the shop working.
#: 002: add to cart fails on insufficient inventory (or an undeliverable variant);
#: 001: 409 items unavailable or price changed at checkout; 000: inactive account;
#: the gateway double answers 409 to a payment on a session that is no longer open
#: (the order expired while the buyer was on the payment page).
EXPECTED_REFUSALS: dict[str, frozenset[str]] = {
    "add_to_cart": frozenset({"insufficient_inventory", "items_unavailable"}),
    "create_order": frozenset(
        {"items_unavailable", "insufficient_inventory", "price_changed", "account_inactive"}
    ),
    "complete_payment": frozenset({"http_409"}),
}
#: With gateway faults in the scenario, a shop that says the gateway is down is right.
GATEWAY_DOWN_REFUSALS: dict[str, frozenset[str]] = {
    "create_order": frozenset({"gateway_unavailable"}),
    "get_payment_link": frozenset({"gateway_unavailable"}),
}


def expected_refusals(gateway_faults: bool) -> dict[str, frozenset[str]]:
    if not gateway_faults:
        return dict(EXPECTED_REFUSALS)
    ops = EXPECTED_REFUSALS.keys() | GATEWAY_DOWN_REFUSALS.keys()
    return {op: EXPECTED_REFUSALS.get(op, frozenset()) | GATEWAY_DOWN_REFUSALS.get(op, frozenset())
            for op in ops}


def scenario_has_gateway_faults(scenario: Scenario) -> bool:
    g = scenario.faults.gateway
    return bool(g.create_error_rate or g.create_timeout_rate or g.outages)


def funnel_steps(funnel: Funnel, *, hosted: bool) -> list[tuple[str, float]]:
    """The funnel's steps and the share of arriving buyers reaching each.

    With synchronous payment (seeds 002, 003) the charge happens inside checkout, so only
    buyers who would pay check out: checkout takes the ``pay`` share (as the simulator does).
    """
    steps = funnel.steps()
    if hosted:
        return steps
    shares = dict(steps)
    return [(name, shares[name]) for name in ("browse", "view", "add")] + [
        ("checkout", shares["pay"])
    ]


def funnel_chain(
    steps: Sequence[tuple[str, float]], *, last: str | None = None
) -> dict[str, dict[str, int]]:
    """The Markov chain of a session walking ``steps`` up to ``last`` (inclusive); its first
    state is where a session starts: ``arrive``, or the first step when nobody bounces.

    From each state the buyer goes on to the next step with the conditional probability
    ``share(next) / share(here)`` and otherwise leaves: the shares are of arriving buyers
    (docs/scenarios.md), so the product of the transitions along the way is the share.
    Steps no buyer reaches are left out (Locust warns about unreachable states).
    """
    chain: dict[str, dict[str, int]] = {}
    here, here_share = ARRIVE, 1.0
    if steps and steps[0][1] >= 1.0:
        # Nobody bounces: start at the first step (one Markov step less per session).
        here, here_share = steps[0]
        steps = steps[1:]
        if here == last:
            steps = []
    for name, share in steps:
        go_on = round(RESOLUTION * share / here_share) if here_share > 0 else 0
        go_on = min(go_on, RESOLUTION)
        if go_on == 0:
            break
        chain[here] = {name: go_on} | ({LEAVE: RESOLUTION - go_on} if go_on < RESOLUTION else {})
        here, here_share = name, share
        if name == last:
            break
    chain[here] = {LEAVE: 1}
    # Never taken (leaving ends the session), but Locust wants every state to go somewhere.
    chain[LEAVE] = {next(iter(chain)): 1}
    return chain


def mix_weights(scenario: Scenario, mix: str | None = None) -> dict[str, int]:
    """Task weights of the two session kinds (``browse``, ``order``) in the chosen mix.

    Locust wants integer weights; the mix's are scaled so that they keep their ratio to
    within 0.1%. A kind whose weight is zero is left out.
    """
    name = mix or scenario.buyers.mix
    chosen = scenario.buyers.mixes[name]
    total = chosen.browse + chosen.order
    weights = {"browse": round(RESOLUTION * chosen.browse / total),
               "order": round(RESOLUTION * chosen.order / total)}
    return {kind: w for kind, w in weights.items() if w > 0}


Line = tuple[str, str, int]  # variant, location, quantity


def draw_basket(
    stock: LinePicker, lines: IntRange, quantity: IntRange, rng: random.Random
) -> list[Line]:
    """Cart lines: distinct variants (the cart is keyed by variant), each a stock entry
    picked in proportion to its popularity, each quantity uniform on [min, max] (the
    simulator draws the same)."""
    n_lines = min(rng.randint(lines.min, lines.max), stock.variants)
    basket: list[Line] = []
    taken: set[str] = set()
    while len(basket) < n_lines:
        variant, location = stock.pick(rng.random(), taken)
        taken.add(variant)
        basket.append((variant, location, rng.randint(quantity.min, quantity.max)))
    return basket


def arrival_offsets(
    rate: float,
    bursts: Sequence[Burst],
    run_time: float,
    rng: random.Random,
    *,
    poisson: bool = True,
    share: int = 1,
    index: int = 0,
) -> Iterator[float]:
    """Arrival times (seconds from the start of dispatching), ascending, below ``run_time``.

    ``share`` processes each dispatch their part of the load: ``rate / share`` (the sum of
    independent Poisson streams is a Poisson stream of the summed rate) and every burst's
    buyers split as evenly as whole buyers allow, process ``index`` taking its part.
    """
    own_rate = rate / share
    if own_rate > 0:
        steady: Iterator[float] = (
            _poisson(own_rate, run_time, rng) if poisson
            else _evenly(own_rate, run_time, index / share)
        )
    else:
        steady = iter(())
    burst_times: list[float] = []
    for burst in bursts:
        mine = burst.buyers // share + (1 if index < burst.buyers % share else 0)
        for _ in range(mine):
            at = burst.at + rng.random() * burst.over
            if at < run_time:
                burst_times.append(at)
    return heapq.merge(steady, sorted(burst_times))


def _poisson(rate: float, run_time: float, rng: random.Random) -> Iterator[float]:
    t = rng.expovariate(rate)
    while t < run_time:
        yield t
        t += rng.expovariate(rate)


def _evenly(rate: float, run_time: float, phase: float) -> Iterator[float]:
    # k6's constant-arrival-rate; the phase staggers the processes sharing the rate.
    for k in itertools.count():
        t = (k + phase) / rate
        if t >= run_time:
            return
        yield t


def closed_stages(
    users: int, spawn_rate: float, run_time: float, stages: Sequence[tuple[float, int, float]] = ()
) -> tuple[Stage, ...]:
    """The closed workload's shape: ``stages`` as ``(duration, users, spawn_rate)`` one after
    another (k6's ramping-vus), or ``users`` held for ``run_time``."""
    if not stages:
        return (Stage(run_time, users, spawn_rate),)
    shaped: list[Stage] = []
    until = 0.0
    for duration, count, rate in stages:
        until += duration
        shaped.append(Stage(until, count, rate))
    return tuple(shaped)


def open_stages(pool: int, spawn_rate: float, run_time: float) -> tuple[tuple[Stage, ...], float]:
    """The open workload's pool of users (k6's VUs), and when dispatching starts.

    The whole pool is spawned first; arrivals are dispatched for ``run_time`` seconds after
    that, so that a buyer finds no user only because all are busy, never because they are
    still being spawned.
    """
    ramp = math.ceil(pool / spawn_rate)
    return (Stage(ramp + run_time, pool, spawn_rate),), float(ramp)


def generated_buyer(index: int) -> str:
    """The id of the index-th generated buyer account (the simulator's naming, sim/storage.py)."""
    return f"b{index}"
