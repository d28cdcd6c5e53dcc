"""The invariants of DESIGN.md section 5 that a simulated run can be held to, checked at its end.

* I1 no oversell: every stock level passes ``StockLevel.violations()``, and the units of
  paid orders never exceed the units received;
* I2 status order: every order's history is a path of the transition table
  (``is_valid_history``);
* I6 money: every order's total is the sum of its lines;
* I7 exactly-once effects: one confirmation email per paid order and none otherwise (sent,
  or still waiting in the outbox when the run was cut short); the cart cleared only after
  success;
* I11 liveness: every order left ``pending_payment`` within the reservation TTL plus the
  longest webhook lag of the run (plus ``LIVENESS_GRACE`` for the worker's own call).

I3, I4 and I5 are exercised by the webhook faults (duplicates, reordering, stale and forged
signatures) and show up here as I2 or I7 violations when the core gets them wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus, is_valid_history
from reference_impl.domain.policies import Policies
from reference_impl.service.memory import MemoryStore
from reference_impl.service.settle import CONFIRMATION_EMAIL

CHECKED = ("I1", "I2", "I6", "I7", "I11")
#: Seconds the expiry worker may take beyond the deadline (its own database call).
LIVENESS_GRACE = 5.0


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    subject: str  # an order id, or variant@location
    at: float  # when it became visible: the order's last change, or the end of the run
    detail: str
    correlation_id: str  # the trace correlation id (the order's cart), "" for stock

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find_violations(
    store: MemoryStore,
    policies: Policies,
    checked: Iterable[str],
    emails: Counter[str],
    end: float,
    longest_webhook_lag: float,
) -> list[Violation]:
    """Every violation of the ``checked`` invariants, earliest first."""
    wanted = set(checked)
    found: list[Violation] = []
    if "I1" in wanted:
        found += _stock(store, end)
    for order in store.orders.values():
        last = order.history[-1].at
        cid = order.cart_id
        if "I2" in wanted and not is_valid_history([c.status for c in order.history]):
            path = " -> ".join(c.status.value for c in order.history)
            found.append(Violation("I2", order.order_id, last, f"history {path}", cid))
        if "I6" in wanted:
            total = Money.zero(order.total.currency)
            for line in order.lines:
                total = total + line.subtotal
            if total != order.total:
                found.append(Violation("I6", order.order_id, order.created_at,
                                       f"total {order.total} != sum of lines {total}", cid))
        if "I11" in wanted and policies.reservation_ttl is not None:
            bound = order.created_at + policies.reservation_ttl + longest_webhook_lag
            pending = OrderStatus.PENDING_PAYMENT
            left = next((c.at for c in order.history if c.status is not pending), None)
            if (end if left is None else left) > bound + LIVENESS_GRACE:
                state = "still pending" if left is None else f"left pending at {left:.3f}"
                found.append(Violation("I11", order.order_id, min(end, bound), (
                    f"created at {order.created_at:.3f}, {state}; deadline {bound:.3f}"
                ), cid))
    if "I7" in wanted:
        found += _effects(store, policies, emails)
    found.sort(key=lambda v: (v.at, v.invariant, v.subject))
    return found


def _stock(store: MemoryStore, end: float) -> list[Violation]:
    found = [
        Violation("I1", f"{level.variant_id}@{level.location_id}", end, problem, "")
        for level in store.stock.values()
        for problem in level.violations()
    ]
    paid: Counter[tuple[str, str]] = Counter()
    for order in store.orders.values():
        if order.status is OrderStatus.PAID:
            for line in order.lines:
                paid[(line.variant_id, line.location_id)] += line.quantity
    for key, units in sorted(paid.items()):
        level = store.stock.get(key)
        received = level.received if level else 0
        if units > received:
            found.append(Violation("I1", f"{key[0]}@{key[1]}", end,
                                   f"paid orders hold {units} units, {received} received", ""))
    return found


def _effects(store: MemoryStore, policies: Policies, emails: Counter[str]) -> list[Violation]:
    found: list[Violation] = []
    waiting = Counter(
        m.order_id for m in store.outbox if m.kind == CONFIRMATION_EMAIL and m.sent_at is None
    )
    for order in store.orders.values():
        paid = order.status is OrderStatus.PAID
        last, cid = order.history[-1].at, order.cart_id
        if policies.send_confirmation_email:
            count = emails[order.order_id] + waiting[order.order_id]
            if count != (1 if paid else 0):
                found.append(Violation("I7", order.order_id, last,
                                       f"{count} confirmation emails for a {order.status} order",
                                       cid))
        if policies.clear_cart_on_payment:
            cart = store.carts.get(order.cart_id)
            was_paid = any(c.status is OrderStatus.PAID for c in order.history)
            if cart is not None and paid and cart.lines:
                found.append(Violation("I7", order.order_id, last,
                                       "the cart of a paid order was not cleared", cid))
            if cart is not None and not was_paid and not cart.lines:
                found.append(Violation("I7", order.order_id, last,
                                       f"the cart of a {order.status} order was cleared", cid))
    return found
