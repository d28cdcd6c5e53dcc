"""The order status machine, as data (DESIGN.md section 3; the h11 ``_state.py`` pattern).

Every rule that moves an order's status is one row of ``TRANSITIONS``. The docs' state
diagram is generated from this table (``to_mermaid``) and a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from itertools import pairwise

from reference_impl.domain.errors import IllegalTransition


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    CANCELLED = "cancelled"  # reservation expired, or the buyer cancelled
    REFUNDED = "refunded"  # paid, but could not be fulfilled (on_payment oversell)


class OrderEvent(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    EXPIRED = "expired"
    BUYER_CANCELLED = "buyer_cancelled"
    UNFULFILLABLE = "unfulfillable"


TRANSITIONS: Mapping[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (OrderStatus.PENDING_PAYMENT, OrderEvent.PAYMENT_SUCCEEDED): OrderStatus.PAID,
    (OrderStatus.PENDING_PAYMENT, OrderEvent.PAYMENT_FAILED): OrderStatus.PAYMENT_FAILED,
    (OrderStatus.PENDING_PAYMENT, OrderEvent.EXPIRED): OrderStatus.CANCELLED,
    (OrderStatus.PENDING_PAYMENT, OrderEvent.BUYER_CANCELLED): OrderStatus.CANCELLED,
    (OrderStatus.PAID, OrderEvent.UNFULFILLABLE): OrderStatus.REFUNDED,
}

INITIAL_STATUS = OrderStatus.PENDING_PAYMENT

#: ``(source, target)`` of every row of ``TRANSITIONS`` (I2 is checked for every order).
_ALLOWED_MOVES: frozenset[tuple[OrderStatus, OrderStatus]] = frozenset(
    (source, target) for (source, _), target in TRANSITIONS.items()
)

#: Statuses nothing leaves (paid is not one: it may still become refunded).
TERMINAL_STATUSES: frozenset[OrderStatus] = frozenset(
    s for s in OrderStatus if not any(src is s for src, _ in TRANSITIONS)
)


def next_status(current: OrderStatus, event: OrderEvent) -> OrderStatus:
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(f"{event.value} is not allowed in status {current.value}") from None


def is_allowed_move(source: OrderStatus, target: OrderStatus) -> bool:
    return (source, target) in _ALLOWED_MOVES


def is_valid_history(statuses: list[OrderStatus]) -> bool:
    """Invariant I2: an observed history is a path through the table from the initial status."""
    if not statuses or statuses[0] != INITIAL_STATUS:
        return False
    return all(is_allowed_move(a, b) for a, b in pairwise(statuses))


def to_mermaid() -> str:
    """The state diagram of ``TRANSITIONS`` in Mermaid ``stateDiagram-v2`` syntax."""
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL_STATUS.value}"]
    for (source, event), target in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {event.value}")
    for status in OrderStatus:
        if status in TERMINAL_STATUSES:
            lines.append(f"    {status.value} --> [*]")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    # Regenerates the diagram of docs/order-states.md (tests/unit/test_order_states_doc.py).
    print(to_mermaid(), end="")
