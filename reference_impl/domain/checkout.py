"""Placing an order from a cart (seeds 000, 001, 002, 003, 004).

``place_order`` is a pure decision: given the cart, what the catalog and stock say now, the
buyer's account and the profile's policies, it returns the new order and the stock moves
that must succeed, all together, for the order to exist.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Variant
from reference_impl.domain.errors import (
    AccountInactive,
    CartEmpty,
    IdempotencyKeyReused,
    ItemsUnavailable,
    NotFound,
    PriceChanged,
    ValidationFailed,
)
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine
from reference_impl.domain.policies import Policies, StockCommitPoint

#: The move an order makes at creation, per commit point (None: stock untouched until paid).
MOVE_AT_ORDER: Mapping[StockCommitPoint, MoveKind | None] = {
    StockCommitPoint.AT_ORDER: MoveKind.SELL,  # seed 000: "update stock" before payment
    StockCommitPoint.RESERVE: MoveKind.RESERVE,
    StockCommitPoint.ON_PAYMENT: None,  # seed 001: decrement only after "Payment Successful"
}


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    moves: tuple[StockMove, ...]


def request_fingerprint(owner_id: str, body: Mapping[str, Any]) -> str:
    """What an Idempotency-Key is bound to (I9): the buyer and the canonical request body."""
    canonical = json.dumps({"owner": owner_id, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotent_replay(existing: Order, fingerprint: str | None) -> Order:
    """Same key and body: the same order. Same key, other body: refused (I9)."""
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
    return existing


def place_order(
    *,
    order_id: str,
    cart: Cart,
    buyer_id: str,
    account: Account | None,
    variant_of: Callable[[str], Variant | None],
    available: Callable[[str, str], int],
    policies: Policies,
    now: float,
    expected_total: Money | None = None,
    idempotency_key: str | None = None,
    fingerprint: str | None = None,
) -> PlacedOrder:
    if not cart.visible_to(buyer_id):
        raise NotFound(f"cart {cart.cart_id} not found")  # I8: not "forbidden", to leak nothing
    if policies.check_account and (account is None or not account.active):
        raise AccountInactive("the buyer's account is not active")  # seed 000: fetch if active
    if not cart.lines:
        raise CartEmpty(f"cart {cart.cart_id} is empty")

    lines: list[OrderLine] = []
    unavailable: list[str] = []
    changed: list[str] = []
    for line in cart.lines.values():
        variant = variant_of(line.variant_id)
        if variant is None or not variant.deliverable:
            unavailable.append(line.variant_id)
            continue
        if variant.price != line.unit_price:
            changed.append(line.variant_id)
        # Seed 001, "Check item availability and prices": for every commit point, including
        # on_payment, whose later decrement is then the only thing that can oversell.
        if available(line.variant_id, line.location_id) < line.quantity:
            unavailable.append(line.variant_id)
        lines.append(OrderLine(line.variant_id, line.location_id, line.quantity, variant.price))
    if unavailable:
        raise ItemsUnavailable(f"not available: {', '.join(sorted(unavailable))}")
    if changed:
        raise PriceChanged(f"price changed since added to cart: {', '.join(sorted(changed))}")

    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) != 1:
        raise ValidationFailed("all lines of an order must share one currency")
    total = Money.zero(currencies.pop())
    for order_line in lines:
        total = total + order_line.subtotal
    if expected_total is not None and expected_total != total:
        raise PriceChanged(
            f"expected total {expected_total.amount} {expected_total.currency}, "
            f"now {total.amount} {total.currency}"
        )

    kind = MOVE_AT_ORDER[policies.stock_commit]
    moves = (
        tuple(StockMove(kind, ln.variant_id, ln.location_id, ln.quantity) for ln in lines)
        if kind
        else ()
    )
    order = Order(
        order_id=order_id,
        owner_id=buyer_id,
        cart_id=cart.cart_id,
        lines=tuple(lines),
        total=total,
        created_at=now,
        expires_at=now + policies.reservation_ttl if policies.reservation_ttl else None,
        holds_stock=bool(moves),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
    )
    return PlacedOrder(order, moves)
