"""Orders, with their lines and status history, under optimistic concurrency.

A reader loads an order in two queries: the order joined with its history (one statement,
so that the status and the history agree even at PostgreSQL's READ COMMITTED), then its
lines, which never change after checkout. ``save`` updates only the version it read, then
appends just the history entries added since that read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import ColumnElement, Row, delete, func, select, true, update

from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine, StatusChange
from reference_impl.domain.order_status import OrderStatus
from reference_impl.service.ports import ConcurrentUpdate, DuplicateIdempotencyKey
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, insert

#: Ids per ``IN (...)`` when loading the lines of many orders (both drivers cap parameters).
_IN_CHUNK = 500


def _order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "owner_id": order.owner_id,
        "cart_id": order.cart_id,
        "total_amount": order.total.amount,
        "total_currency": order.total.currency,
        "created_at": order.created_at,
        "expires_at": order.expires_at,
        "status": order.status.value,
        "holds_stock": order.holds_stock,
        "payment_session_id": order.payment_session_id,
        "payment_url": order.payment_url,
        "idempotency_key": order.idempotency_key,
        "request_fingerprint": order.request_fingerprint,
        "version": order.version,
    }


def _line_rows(order_id: str, lines: Iterable[OrderLine]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "position": position,
            "variant_id": line.variant_id,
            "location_id": line.location_id,
            "quantity": line.quantity,
            "unit_price_amount": line.unit_price.amount,
            "unit_price_currency": line.unit_price.currency,
        }
        for position, line in enumerate(lines)
    ]


def _history_rows(
    order_id: str, changes: Sequence[StatusChange], start: int = 0
) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "position": position,
            "status": change.status.value,
            "at": change.at,
            "reason": change.reason,
        }
        for position, change in enumerate(changes, start)
    ]


class SqlOrders:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # (lines, history) as last read or written in this unit, so that ``save`` writes
        # only what changed. Without an entry, ``save`` rewrites the children.
        self._known: dict[str, tuple[tuple[OrderLine, ...], tuple[StatusChange, ...]]] = {}

    def forget(self) -> None:
        self._known.clear()

    # -- reads -----------------------------------------------------------------------

    def _load(
        self,
        where: ColumnElement[bool],
        order_by: Sequence[str] = ("order_id",),
        limit: int | None = None,
    ) -> list[Order]:
        conn = self._slot.conn
        h = t.order_history
        chosen = select(t.orders).where(where)
        if limit is not None:
            chosen = chosen.order_by(*(t.orders.c[name] for name in order_by)).limit(limit)
        o = chosen.subquery()
        rows = conn.execute(
            select(
                o,
                h.c.status.label("h_status"),
                h.c.at.label("h_at"),
                h.c.reason.label("h_reason"),
            )
            .select_from(o.outerjoin(h, h.c.order_id == o.c.order_id))
            .order_by(*(o.c[name] for name in order_by), h.c.position)
        ).all()
        if not rows:
            return []
        lines = self._lines([row.order_id for row in rows])
        loaded = []
        for order_id, group in groupby(rows, key=lambda row: row.order_id):
            members = list(group)
            order = self._order(members[0], lines.get(order_id, ()), members)
            self._known[order_id] = (order.lines, tuple(order.history))
            loaded.append(order)
        return loaded

    def _lines(self, order_ids: list[str]) -> dict[str, tuple[OrderLine, ...]]:
        ids = list(dict.fromkeys(order_ids))
        lines: dict[str, tuple[OrderLine, ...]] = {}
        ol = t.order_lines
        for start in range(0, len(ids), _IN_CHUNK):
            rows = self._slot.conn.execute(
                select(ol)
                .where(ol.c.order_id.in_(ids[start : start + _IN_CHUNK]))
                .order_by(ol.c.order_id, ol.c.position)
            )
            for order_id, group in groupby(rows, key=lambda row: row.order_id):
                lines[order_id] = tuple(
                    OrderLine(
                        r.variant_id,
                        r.location_id,
                        r.quantity,
                        Money(r.unit_price_amount, r.unit_price_currency),
                    )
                    for r in group
                )
        return lines

    @staticmethod
    def _order(head: Row[Any], lines: tuple[OrderLine, ...], rows: list[Row[Any]]) -> Order:
        return Order(
            order_id=head.order_id,
            owner_id=head.owner_id,
            cart_id=head.cart_id,
            lines=lines,
            total=Money(head.total_amount, head.total_currency),
            created_at=head.created_at,
            expires_at=head.expires_at,
            status=OrderStatus(head.status),
            history=[
                StatusChange(OrderStatus(r.h_status), r.h_at, r.h_reason)
                for r in rows
                if r.h_status is not None
            ],
            holds_stock=bool(head.holds_stock),
            payment_session_id=head.payment_session_id,
            payment_url=head.payment_url,
            idempotency_key=head.idempotency_key,
            request_fingerprint=head.request_fingerprint,
            version=head.version,
        )

    def get(self, order_id: str) -> Order | None:
        found = self._load(t.orders.c.order_id == order_id)
        return found[0] if found else None

    def find_by_idempotency_key(self, owner_id: str, key: str) -> Order | None:
        o = t.orders.c
        found = self._load((o.owner_id == owner_id) & (o.idempotency_key == key))
        return found[0] if found else None

    def due_for_expiry(self, now: float, limit: int) -> list[Order]:
        o = t.orders.c
        due = (
            (o.status == OrderStatus.PENDING_PAYMENT.value)
            & o.expires_at.is_not(None)
            & (o.expires_at <= now)
        )
        return self._load(due, order_by=("expires_at", "order_id"), limit=limit)

    def next_expiry(self) -> float | None:
        o = t.orders.c
        soonest: float | None = self._slot.conn.execute(
            select(func.min(o.expires_at)).where(o.status == OrderStatus.PENDING_PAYMENT.value)
        ).scalar()
        return soonest

    def list(self, status: OrderStatus | None = None) -> list[Order]:
        o = t.orders.c
        where = true() if status is None else o.status == status.value
        return self._load(where, order_by=("created_at", "order_id"))

    # -- writes ----------------------------------------------------------------------

    def add(self, order: Order) -> None:
        conn = self._slot.conn
        stmt = insert(conn, t.orders).values(_order_row(order))
        if order.idempotency_key:
            # A conflict on the key (I9) is reported by the row count, not by a failed
            # insert, which would abort the whole PostgreSQL transaction.
            stmt = stmt.on_conflict_do_nothing(index_elements=["owner_id", "idempotency_key"])
        if conn.execute(stmt).rowcount != 1:
            raise DuplicateIdempotencyKey(order.idempotency_key)
        self._write_children(order, None, existing=False)

    def save(self, order: Order) -> None:
        conn = self._slot.conn
        o = t.orders.c
        row = _order_row(order)
        row["version"] = order.version + 1
        saved = conn.execute(
            update(t.orders)
            .where((o.order_id == order.order_id) & (o.version == order.version))
            .values(row)
        )
        if saved.rowcount != 1:
            raise ConcurrentUpdate(order.order_id)
        order.version += 1
        self._write_children(order, self._known.get(order.order_id), existing=True)

    def _write_children(
        self,
        order: Order,
        known: tuple[tuple[OrderLine, ...], tuple[StatusChange, ...]] | None,
        *,
        existing: bool,
    ) -> None:
        """Write lines and history; ``known`` is what the database holds, when we know it."""
        conn = self._slot.conn
        order_id = order.order_id
        history = tuple(order.history)
        # Lines are fixed at checkout (I6), so normally only new history is written.
        if known is None or order.lines != known[0]:
            if existing:
                conn.execute(delete(t.order_lines).where(t.order_lines.c.order_id == order_id))
            if order.lines:
                conn.execute(t.order_lines.insert(), _line_rows(order_id, order.lines))
        if known is not None and history[: len(known[1])] == known[1]:
            added = _history_rows(order_id, history[len(known[1]) :], start=len(known[1]))
        else:
            if existing:
                conn.execute(
                    delete(t.order_history).where(t.order_history.c.order_id == order_id)
                )
            added = _history_rows(order_id, history)
        if added:
            conn.execute(t.order_history.insert(), added)
        self._known[order_id] = (order.lines, history)
