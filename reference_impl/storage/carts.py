"""Carts and their lines (seeds 000, 002, 003)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Delete, Insert, Select, bindparam, delete, select

from reference_impl.domain.cart import Cart, CartLine
from reference_impl.domain.money import Money
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, upsert
from reference_impl.storage.driver import execute


@cache
def _cart_with_lines() -> Select[Any]:
    c, line = t.carts, t.cart_lines
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
        )
        .select_from(c.outerjoin(line, line.c.cart_id == c.c.cart_id))
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
        for row in rows:
            if row.variant_id is not None:
                cart.lines[row.variant_id] = CartLine(
                    row.variant_id,
                    row.location_id,
                    row.quantity,
                    Money(row.unit_price_amount, row.unit_price_currency),
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
