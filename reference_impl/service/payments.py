"""The payment webhook handler (seeds 000, 001, 004): idempotent, and safe out of order."""

from __future__ import annotations

from reference_impl.domain.payment import PaymentEvent
from reference_impl.domain.policies import Policies
from reference_impl.domain.settlement import settle_payment
from reference_impl.domain.trace import Actor, Msg
from reference_impl.service.ports import RecordedPaymentEvent, UnitOfWork
from reference_impl.service.retry import retry_on_conflict
from reference_impl.service.settle import apply_settlement
from reference_impl.service.tracing import Trace

DUPLICATE = "duplicate"
UNKNOWN_ORDER = "unknown_order"


def handle_payment_event(
    uow: UnitOfWork, event: PaymentEvent, *, policies: Policies, now: float, trace: Trace
) -> str:
    """Apply an authenticated payment event once; return what it did.

    The event id is stored in the same transaction as its effects, under a unique key, so
    a redelivery (sequential or concurrent) finds it and changes nothing (I3).
    """

    def unit() -> str:
        with uow:
            order = uow.orders.get(event.order_id)
            if order is None:
                # Acknowledged all the same: retrying cannot make the order appear.
                return UNKNOWN_ORDER
            bound = trace.bind(order.cart_id)
            bound.send(Actor.GATEWAY, Actor.PAYMENTS, Msg.PAYMENT_WEBHOOK)
            settlement = settle_payment(
                order, event.outcome, event.amount, policies, event.session_id
            )
            fresh = uow.payment_events.record(
                RecordedPaymentEvent(
                    event.event_id, event.order_id, event.outcome.value, settlement.verdict, now
                )
            )
            if not fresh:
                bound.reply(Actor.PAYMENTS, Actor.GATEWAY, Msg.PAYMENT_WEBHOOK)
                return DUPLICATE
            bound.send(Actor.PAYMENTS, Actor.ORDERS, Msg.UPDATE_ORDER_STATUS)
            verdict = apply_settlement(
                uow, order, settlement, now, bound, f"webhook {event.event_id}"
            )
            # Answered before the commit, so that a unit of work journaling the trace
            # stores the whole exchange with the payment (one transaction).
            bound.reply(Actor.PAYMENTS, Actor.GATEWAY, Msg.PAYMENT_WEBHOOK)
            uow.commit()
            return verdict

    return retry_on_conflict(unit, trace=trace)
