"""A buyer's session (scenario ``buyers``): the funnel, the basket, impatience, payment.

Everything a buyer will do is drawn when they arrive, from the ``buyers`` stream, in a
fixed number of draws: how deep into the funnel they go, whether they are impatient and
how patient, their account, their basket, their think times, whether the gateway will
decline their card. So the same buyer wants the same things under every policy being
compared (common random numbers), whatever happened to the buyers before them.

The funnel gives the share of arriving buyers reaching each step; one uniform number ``u``
per buyer decides them all: the buyer reaches a step when ``u`` is below its share.

Steps: browse and view (requests only where the profile exposes them, seed 003), add to
cart, checkout, pay. With synchronous payment (seeds 002, 003) the charge happens inside
checkout, so a buyer who checks out but would not pay leaves before placing the order.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from reference_impl.domain.order import Order
from reference_impl.domain.trace import Msg
from scenarios.baskets import LinePicker
from scenarios.schema import Scenario
from sim.capacity import Reneged
from sim.observations import SessionEnd
from sim.shop import Shop
from sim.storage import buyer_account
from sim.streams import RandomStreams

#: A buyer whose payment page errors tries again this many times at most.
MAX_PAYMENT_TRIES = 20
#: Seconds before trying again when the scenario gives no think time.
RETRY_PAUSE = 5.0

Line = tuple[str, str, int]  # variant, location, quantity
_NO_THINKING = [0.0, 0.0, 0.0, 0.0]


@dataclass(slots=True)
class Intent:
    cart_id: str
    account: str
    reach: int  # funnel steps reached: 0 (bounced) .. 5 (pays)
    patience: float | None  # None: waits as long as it takes
    declined: bool
    lines: list[Line]
    thinks: list[float]
    has_cart: bool = False


class BuyerPlanner:
    """Draws each arriving buyer's ``Intent``."""

    def __init__(self, scenario: Scenario, streams: RandomStreams) -> None:
        buyers = scenario.buyers
        self._rng = streams["buyers"]
        self._think_rng = streams["think"]
        self._patience_rng = streams["patience"]
        # The funnel's shares never rise (every Scenario is checked for it when made), so
        # the steps a buyer reaches, those whose share is above ``u``, come first: their
        # number is found by bisecting the negated shares (ascending), one call, no loop.
        self._negated_shares = [-share for _, share in buyers.funnel.steps()]
        self._impatient = buyers.abandonment.probability
        self._patience = buyers.abandonment.patience
        self._think = buyers.think_time
        self._decline = scenario.faults.gateway.decline_rate
        self._population = buyers.population
        self._named = [user.id for user in scenario.catalog.users]
        self._accounts = self._population + len(self._named)
        self._min_lines = buyers.lines.min
        self._line_span = buyers.lines.max - buyers.lines.min + 1
        self._q_min = buyers.quantity.min
        self._q_span = buyers.quantity.max - buyers.quantity.min + 1
        self._lines = LinePicker(scenario.catalog.stock)
        self._max_lines = min(buyers.lines.max, self._lines.variants)
        self._draws = 5 + 2 * buyers.lines.max
        self._think_sample = self._think.sampler(self._think_rng) if self._think else None
        self._patience_sample = (
            self._patience.sampler(self._patience_rng) if self._patience else None
        )

    def draw(self, index: int) -> Intent:
        # Layout of the buyer's draws: funnel, impatience, decline, account, number of
        # lines, then (pick, quantity) for each possible line.
        u = self._rng.take(self._draws)
        think = self._think_sample
        thinks = [think(), think(), think(), think()] if think is not None else _NO_THINKING
        patience = self._patience_sample() if self._patience_sample else None

        reach = bisect.bisect_left(self._negated_shares, -u[0])
        which = int(u[3] * self._accounts)
        population = self._population
        account = (
            buyer_account(which) if which < population else self._named[which - population]
        )
        n_lines = min(self._min_lines + int(u[4] * self._line_span), self._max_lines)
        pick, q_min, q_span = self._lines.pick, self._q_min, self._q_span
        lines: list[Line] = []
        taken: set[str] = set()
        for i in range(5, 5 + 2 * n_lines, 2):
            # One line per variant: the cart is keyed by variant (reference_impl Cart).
            variant, location = pick(u[i], taken)
            taken.add(variant)
            lines.append((variant, location, q_min + int(u[i + 1] * q_span)))
        # Positional: cart_id, account, reach, patience, declined, lines, thinks.
        return Intent(
            f"c{index}", account, reach, patience if u[1] < self._impatient else None,
            u[2] < self._decline, lines, thinks,
        )

    def pause(self) -> float:
        """A buyer's pause before trying a failed payment page again."""
        return self._think_sample() if self._think_sample else RETRY_PAUSE


def session(
    shop: Shop, planner: BuyerPlanner, exposes_browse: bool, exposes_view: bool,
    fetch_link_later: bool,
) -> Generator[simpy.Event, Any, None]:
    """One buyer, from arrival to leaving the shop.

    Written as one generator (the steps inline, ``break`` to leave) because every event of
    every buyer passes through it: each generator level between SimPy and the ``yield``
    costs about 0.2 microseconds per event.
    """
    env, obs = shop.env, shop.obs
    buyer = obs.arrive(env.now)
    intent = planner.draw(buyer)
    reach, patience, thinks = intent.reach, intent.patience, intent.thinks
    end = SessionEnd.BOUNCED
    try:
        while reach >= 1:  # one pass
            end = SessionEnd.BROWSED
            if exposes_browse:
                yield from shop.browse(intent.cart_id, Msg.LIST_PRODUCTS, patience)
            if reach < 2:
                break
            if thinks[0] > 0.0:
                yield env.timeout(thinks[0])
            if exposes_view:
                yield from shop.browse(intent.cart_id, Msg.VIEW_PRODUCT, patience)
            if reach < 3 or not intent.lines:
                break
            if thinks[1] > 0.0:
                yield env.timeout(thinks[1])
            added, short = yield from shop.add_lines(buyer, intent, patience)
            if not added:
                end = SessionEnd.TURNED_AWAY if short else SessionEnd.REFUSED
                break
            end = SessionEnd.LEFT_CART
            # Synchronous payment is taken inside checkout (DESIGN.md section 3).
            if reach < (4 if shop.hosted else 5):
                break
            if thinks[2] > 0.0:
                yield env.timeout(thinks[2])
            placed = yield from shop.checkout(buyer, intent, patience)
            if not isinstance(placed, Order):
                turned = placed == "items_unavailable"
                end = SessionEnd.TURNED_AWAY if turned else SessionEnd.REFUSED
                break
            # Synchronous: paid or declined inside checkout, unless the gateway never answered.
            paid = not shop.hosted and not placed.is_pending
            end = SessionEnd.PAID if paid else SessionEnd.ORDERED
            if not shop.hosted or reach < 5:
                break
            if thinks[3] > 0.0:
                yield env.timeout(thinks[3])
            end = yield from _pay(shop, planner, intent, placed, fetch_link_later)
            break
    except Reneged:
        end = SessionEnd.ABANDONED
    obs.leave(buyer, env.now, end)


def _pay(
    shop: Shop, planner: BuyerPlanner, intent: Intent, order: Order, fetch_link_later: bool
) -> Generator[simpy.Event, Any, SessionEnd]:
    """Hosted checkout: get the link (seed 000 fetches it later), pay on the gateway's page.

    A page that errors (outage, or the session was never opened) is tried again after a
    pause; an impatient buyer gives up once the trying took longer than their patience.
    """
    env = shop.env
    started = env.now
    need_link = fetch_link_later or order.payment_session_id is None
    for _ in range(MAX_PAYMENT_TRIES):
        if need_link:
            order = yield from shop.payment_link(intent, order, intent.patience)
        if order.payment_session_id is None and not order.is_pending:
            return SessionEnd.ORDERED  # expired while the gateway was away: nothing to pay
        if order.payment_session_id is not None:
            need_link = False
            outcome = yield from shop.gateway.complete_payment(
                order, intent.declined, intent.patience
            )
            if outcome is not None:
                return SessionEnd.PAID
        if intent.patience is not None and env.now - started > intent.patience:
            return SessionEnd.ABANDONED
        yield env.timeout(planner.pause())
    return SessionEnd.ABANDONED
