"""What a run records as it goes; ``sim.metrics`` turns it, and the final store, into numbers.

Only what the final store cannot tell is recorded here: when buyers came and went and how
their sessions ended, who was turned away for want of stock, webhook deliveries, emails.
Order statuses and their times are read from the orders' own histories afterwards.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class SessionEnd(StrEnum):
    """How a buyer's session ended: the deepest step reached, or why it stopped."""

    BOUNCED = "bounced"  # left before browsing (funnel)
    BROWSED = "browsed"  # browsed or viewed, added nothing
    LEFT_CART = "left_cart"  # filled a cart, did not check out
    TURNED_AWAY = "turned_away"  # refused for want of stock (insufficient / unavailable)
    REFUSED = "refused"  # refused for another reason (inactive account, undeliverable)
    ABANDONED = "abandoned"  # waited longer than their patience and left
    ORDERED = "ordered"  # placed an order and did not pay
    PAID = "paid"  # completed a payment (the gateway may still have declined it)


class TurnAway(NamedTuple):  # a tuple: one per refused buyer, cheap to make
    """A request refused because ``quantity`` of a variant was not available at ``at``."""

    at: float
    buyer: int
    variant_id: str
    location_id: str
    quantity: int


@dataclass(slots=True)
class Observations:
    arrived_at: list[float] = field(default_factory=list)  # by buyer index
    left_at: list[float] = field(default_factory=list)  # nan while still in the shop
    ended: list[SessionEnd | None] = field(default_factory=list)
    turned_away: list[TurnAway] = field(default_factory=list)
    #: ``(paid at, seconds)`` from the gateway's payment to the shop's first 2xx for it.
    webhook_lag: list[tuple[float, float]] = field(default_factory=list)
    webhook_events: int = 0
    webhook_copies: int = 0  # deliveries, duplicates included
    webhook_attempts: int = 0
    webhook_dropped: int = 0  # attempts the drop-first fault lost on the way
    webhook_rejected: int = 0  # attempts answered 400 (stale or forged signature)
    webhook_gave_up: int = 0  # deliveries abandoned after max_attempts
    gateway_errors: int = 0  # create-session or charge calls that failed for good
    gateway_abandoned: int = 0  # calls the gateway served after the shop's client gave up
    emails: Counter[str] = field(default_factory=Counter)  # confirmation emails by order id

    def arrive(self, now: float) -> int:
        self.arrived_at.append(now)
        self.left_at.append(math.nan)
        self.ended.append(None)
        return len(self.arrived_at) - 1

    def leave(self, buyer: int, now: float, end: SessionEnd) -> None:
        self.left_at[buyer] = now
        self.ended[buyer] = end
