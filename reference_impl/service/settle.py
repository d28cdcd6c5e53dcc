"""Carrying out a ``Settlement`` decided by the core, inside one unit of work."""

from __future__ import annotations

from reference_impl.domain.effects import ClearCart, RefundPayment, SendConfirmation
from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import MoveKind
from reference_impl.domain.order import Order
from reference_impl.domain.settlement import Settlement
from reference_impl.domain.trace import Actor, Msg
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import Trace

CONFIRMATION_EMAIL = "confirmation_email"
REFUND = "refund"

_MOVE_MESSAGE = {
    MoveKind.RESERVE: Msg.RESERVE_STOCK,
    MoveKind.SELL: Msg.SELL_STOCK,
    MoveKind.COMMIT: Msg.COMMIT_STOCK,
    MoveKind.RELEASE: Msg.RELEASE_STOCK,
    MoveKind.RESTOCK: Msg.RELEASE_STOCK,
}


def stock_message(kind: MoveKind) -> Msg:
    return _MOVE_MESSAGE[kind]


def apply_settlement(
    uow: UnitOfWork, order: Order, settlement: Settlement, now: float, trace: Trace, reason: str
) -> str:
    """Apply the moves and then the matching branch; return the verdict that happened."""
    branch, verdict = settlement.on_success, settlement.verdict
    if settlement.moves:
        trace.call(Actor.ORDERS, Actor.INVENTORY, stock_message(settlement.moves[0].kind))
        try:
            uow.stock.apply(settlement.moves)
        except InsufficientInventory:
            if settlement.on_shortage is None:
                raise
            branch, verdict = settlement.on_shortage, "refunded_out_of_stock"
    if branch.events:
        for event in branch.events:
            order.apply(event, now, reason)
        if branch.releases_stock:
            order.holds_stock = False
        if branch.takes_stock:
            order.holds_stock = True
        trace.send(Actor.ORDERS, Actor.DATABASE, Msg.UPDATE_ORDER_STATUS)
        uow.orders.save(order)
    for effect in branch.effects:
        if isinstance(effect, ClearCart):
            cart = uow.carts.get(effect.cart_id)
            if cart is not None:
                trace.call(Actor.ORDERS, Actor.CART, Msg.CLEAR_CART)
                cart.clear(now)
                uow.carts.save(cart)
        elif isinstance(effect, SendConfirmation):
            # Through the outbox, committed with the status: sent at least once, and
            # carrying the order id so that the receiver can drop duplicates (I7).
            trace.send_async(Actor.ORDERS, Actor.MAIL, Msg.SEND_CONFIRMATION)
            uow.outbox.add(
                CONFIRMATION_EMAIL,
                effect.order_id,
                {"owner_id": effect.owner_id, "total": order.total.to_json()},
                now,
            )
        elif isinstance(effect, RefundPayment):
            trace.send_async(Actor.PAYMENTS, Actor.GATEWAY, Msg.REFUND)
            uow.outbox.add(REFUND, effect.order_id, {"reason": effect.reason}, now)
    return verdict
