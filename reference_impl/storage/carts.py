"""Carts and their lines (seeds 000, 002, 003)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Delete, Insert, Select, bindparam, delete, select

from reference_impl.domain.cart import Cart, CartLine
from reference_impl.domain.money import Money
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ACCOUNT, STOCK, VARIANT, ConnectionSlot, upsert
from reference_impl.storage.catalog import account_from, variant_columns, variant_from
from reference_impl.storage.driver import execute
from reference_impl.storage.stock import level_from


@cache
def _cart_with_lines() -> Select[Any]:
    """The cart, its lines, and read ahead: each line's variant and stock level, and the
    owner's account, which checkout and adding to a cart read next (``ConnectionSlot``).

    One statement instead of four: on PostgreSQL each is a round trip, taken while the
    group committer's batch holds the lock that the other processes' batches wait for.
    """
    c, line, s, a = t.carts, t.cart_lines, t.stock, t.accounts
    return (
        select(
            c.c.owner_id,
            c.c.created_at,
            c.c.updated_at,
            line.c.variant_id,
            line.c.location_id,
            line.c.quantity,
            line.c.unit_price_amount,
            line.c.unit_price_currency,
            # The line's variant_id stands for the variant's: the driver's fast path runs
            # only statements whose result names are unique.
            *variant_columns()[1:],
            s.c.on_hand,
            s.c.reserved,
            s.c.sold,
            s.c.received,
            a.c.user_id,
            a.c.email,
            a.c.active,
            a.c.shop_id,
        )
        .select_from(
            c.outerjoin(line, line.c.cart_id == c.c.cart_id)
            .outerjoin(t.variants, t.variants.c.variant_id == line.c.variant_id)
            .outerjoin(
                s, (s.c.variant_id == line.c.variant_id) & (s.c.location_id == line.c.location_id)
            )
            .outerjoin(a, a.c.user_id == c.c.owner_id)
        )
        .where(c.c.cart_id == bindparam("cart_id"))
        .order_by(line.c.position)
    )


@cache
def _delete_lines() -> Delete:
    return delete(t.cart_lines).where(t.cart_lines.c.cart_id == bindparam("b_cart_id"))


@cache
def _insert_lines() -> Insert:
    return t.cart_lines.insert()


class SqlCarts:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # Lines as last read or written in this unit: saving a cart whose lines did not
        # change writes only the cart row.
        self._known: dict[str, tuple[CartLine, ...]] = {}

    def forget(self) -> None:
        self._known.clear()

    def get(self, cart_id: str) -> Cart | None:
        rows = execute(self._slot.conn, _cart_with_lines(), {"cart_id": cart_id}).all()
        if not rows:
            return None
        head = rows[0]
        cart = Cart(cart_id, head.owner_id, head.created_at, updated_at=head.updated_at)
        ahead = self._slot.ahead
        if head.owner_id is not None:  # an anonymous cart has no account to read ahead
            ahead[ACCOUNT, head.owner_id] = (
                account_from(head) if head.user_id is not None else None
            )
        for row in rows:
            variant_id = row.variant_id
            if variant_id is not None:
                cart.lines[variant_id] = CartLine(
                    variant_id,
                    row.location_id,
                    row.quantity,
                    Money(row.unit_price_amount, row.unit_price_currency),
                )
                # A line's variant id is the variant's own: the join found it or it is gone.
                ahead[VARIANT, variant_id] = (
                    variant_from(row) if row.variant_product_id is not None else None
                )
                ahead[STOCK, variant_id, row.location_id] = (
                    level_from(row) if row.on_hand is not None else None
                )
        self._known[cart_id] = tuple(cart.lines.values())
        return cart

    def add(self, cart: Cart) -> None:
        conn = self._slot.conn
        upsert(
            conn,
            t.carts,
            [
                {
                    "cart_id": cart.cart_id,
                    "owner_id": cart.owner_id,
                    "created_at": cart.created_at,
                    "updated_at": cart.updated_at,
                }
            ],
        )
        lines = tuple(cart.lines.values())
        if self._known.get(cart.cart_id) == lines:
            return
        # The lines are few (MAX_LINES); rewriting them keeps their order without diffing.
        execute(conn, _delete_lines(), {"b_cart_id": cart.cart_id})
        if lines:
            execute(
                conn,
                _insert_lines(),
                [
                    {
                        "cart_id": cart.cart_id,
                        "variant_id": line.variant_id,
                        "position": position,
                        "location_id": line.location_id,
                        "quantity": line.quantity,
                        "unit_price_amount": line.unit_price.amount,
                        "unit_price_currency": line.unit_price.currency,
                    }
                    for position, line in enumerate(lines)
                ],
            )
        self._known[cart.cart_id] = lines

    # As in the in-memory store: a cart is written whole, whether new or not.
    save = add
