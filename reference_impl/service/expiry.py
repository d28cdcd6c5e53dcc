"""Reservation expiry (policy reserve, I11), woken when the core says it next needs waking."""

from __future__ import annotations

from reference_impl.domain.policies import Policies
from reference_impl.domain.settlement import settle_expiry
from reference_impl.service.ports import ConcurrentUpdate, UnitOfWork
from reference_impl.service.settle import apply_settlement
from reference_impl.service.tracing import Trace


def expire_due(
    uow: UnitOfWork, *, policies: Policies, now: float, trace: Trace, limit: int = 200
) -> int:
    """Cancel the pending orders whose TTL has passed; return how many were cancelled.

    Each order is its own unit: a webhook that settles one concurrently wins (its version
    moved) and that order is simply skipped.
    """
    with uow:
        due = [o.order_id for o in uow.orders.due_for_expiry(now, limit)]
    expired = 0
    for order_id in due:
        mark = trace.mark()
        try:
            with uow:
                order = uow.orders.get(order_id)
                if order is None:
                    continue
                settlement = settle_expiry(order, policies, now)
                if not settlement.changes_anything:
                    continue
                apply_settlement(uow, order, settlement, now, trace.bind(order.cart_id),
                                 "reservation expired")
                uow.commit()
                expired += 1
        except ConcurrentUpdate:
            trace.rewind(mark)  # rolled back: the messages of this order did not happen
            continue
    return expired


def next_wakeup(uow: UnitOfWork) -> float | None:
    with uow:
        return uow.orders.next_expiry()
