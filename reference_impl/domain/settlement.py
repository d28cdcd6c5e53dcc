"""What a payment outcome, or the passing of time, does to an order (seeds 000, 001, 002, 004).

Every decision is pure and returned as a ``Settlement``: the stock moves to try, and what to
do if they succeed or, for on_payment, if stock ran out in the meantime. The caller applies
the moves atomically and then exactly one of the two branches.

Rules that protect the invariants:
* I3: the same event id twice is the storage's business (a unique constraint); the core
  is also safe against a second, different event with the same outcome (``stale``).
* I4: once an order left ``pending_payment`` no payment event moves it back or sideways.
  A success that arrives after a failure or an expiry took money for a dead order: the
  status stays, and a refund is requested.
* I6: an event whose amount is not the order's total never marks the order paid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reference_impl.domain.effects import ClearCart, Effect, RefundPayment, SendConfirmation
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderEvent, OrderStatus, next_status
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import Policies, StockCommitPoint


@dataclass(frozen=True, slots=True)
class Branch:
    events: tuple[OrderEvent, ...] = ()
    effects: tuple[Effect, ...] = ()
    releases_stock: bool = False  # the order no longer holds stock afterwards
    takes_stock: bool = False  # the order now holds stock (sold)


@dataclass(frozen=True, slots=True)
class Settlement:
    """``verdict`` says what happened, for the log and the webhook's answer."""

    verdict: str
    moves: tuple[StockMove, ...] = ()
    on_success: Branch = field(default_factory=Branch)
    #: Taken instead when ``moves`` fail for lack of stock (on_payment only).
    on_shortage: Branch | None = None

    @property
    def changes_anything(self) -> bool:
        b = self.on_success
        return bool(self.moves or b.events or b.effects)


NO_CHANGE = "no_change"

#: Moves to undo whatever the order took at creation, per commit point.
_UNDO: dict[StockCommitPoint, MoveKind] = {
    StockCommitPoint.RESERVE: MoveKind.RELEASE,
    StockCommitPoint.AT_ORDER: MoveKind.RESTOCK,
}
#: Moves that make a paid order's stock sold, per commit point.
_ON_PAID: dict[StockCommitPoint, MoveKind] = {
    StockCommitPoint.RESERVE: MoveKind.COMMIT,
    StockCommitPoint.ON_PAYMENT: MoveKind.SELL,
}


def _moves(order: Order, kind: MoveKind) -> tuple[StockMove, ...]:
    return tuple(StockMove(kind, ln.variant_id, ln.location_id, ln.quantity) for ln in order.lines)


def _release(order: Order, policies: Policies) -> tuple[StockMove, ...]:
    kind = _UNDO.get(policies.stock_commit)
    return _moves(order, kind) if order.holds_stock and kind else ()


def settle_payment(
    order: Order,
    outcome: PaymentOutcome,
    amount: Money,
    policies: Policies,
    session_id: str | None = None,
) -> Settlement:
    """``session_id``: the gateway session the event is about, when the dialect names one."""
    if session_id and order.payment_session_id and session_id != order.payment_session_id:
        return Settlement("session_mismatch")  # an event for another session of this order
    if not order.is_pending:
        if outcome is PaymentOutcome.SUCCEEDED and order.status in (
            OrderStatus.PAYMENT_FAILED,
            OrderStatus.CANCELLED,
        ):
            return Settlement(
                "late_success_refunded",
                on_success=Branch(
                    effects=(RefundPayment(order.order_id, f"paid after {order.status.value}"),)
                ),
            )
        return Settlement("stale")  # I4: duplicates and late contradictions change nothing

    if outcome is PaymentOutcome.SUCCEEDED:
        if amount != order.total:
            return Settlement("amount_mismatch")  # I6: never paid on a wrong amount
        paid_effects: list[Effect] = []
        if policies.clear_cart_on_payment:
            paid_effects.append(ClearCart(order.cart_id))
        if policies.send_confirmation_email:
            paid_effects.append(SendConfirmation(order.order_id, order.owner_id))
        kind = _ON_PAID.get(policies.stock_commit)
        moves = _moves(order, kind) if kind else ()
        return Settlement(
            "paid",
            moves=moves,
            on_success=Branch(
                events=(OrderEvent.PAYMENT_SUCCEEDED,),
                effects=tuple(paid_effects),
                takes_stock=bool(moves),
            ),
            # on_payment (seeds 001, 002): stock ran out between checkout and payment; the
            # buyer paid for nothing, so the order is paid and then refunded. Under the
            # other policies the units are already held, so a shortage is a broken ledger
            # and must surface, not be refunded away.
            on_shortage=Branch(
                events=(OrderEvent.PAYMENT_SUCCEEDED, OrderEvent.UNFULFILLABLE),
                effects=(RefundPayment(order.order_id, "out of stock when payment arrived"),),
            )
            if policies.stock_commit is StockCommitPoint.ON_PAYMENT
            else None,
        )

    event = OrderEvent.PAYMENT_FAILED if outcome is PaymentOutcome.FAILED else OrderEvent.EXPIRED
    return Settlement(
        event.value,
        moves=_release(order, policies),
        on_success=Branch(events=(event,), releases_stock=order.holds_stock),
    )


def settle_expiry(order: Order, policies: Policies, now: float) -> Settlement:
    """Reservation TTL (policy reserve, or any profile with a TTL): cancel and release."""
    if not order.is_pending or order.expires_at is None or now < order.expires_at:
        return Settlement(NO_CHANGE)
    return Settlement(
        "expired",
        moves=_release(order, policies),
        on_success=Branch(events=(OrderEvent.EXPIRED,), releases_stock=order.holds_stock),
    )


def settle_cancellation(order: Order, policies: Policies) -> Settlement:
    next_status(order.status, OrderEvent.BUYER_CANCELLED)  # raises unless still pending
    return Settlement(
        "cancelled",
        moves=_release(order, policies),
        on_success=Branch(events=(OrderEvent.BUYER_CANCELLED,), releases_stock=order.holds_stock),
    )


def next_wakeup(expiries: list[float | None]) -> float | None:
    """When the caller must next call ``settle_expiry`` (the aioquic ``get_timer`` idea)."""
    due = [t for t in expiries if t is not None]
    return min(due) if due else None
