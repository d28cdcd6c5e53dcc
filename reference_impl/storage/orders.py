"""Orders, with their lines and status history, under optimistic concurrency.

A reader loads an order in two queries: the order joined with its history (one statement,
so that the status and the history agree even at PostgreSQL's READ COMMITTED), then its
lines, which never change after checkout. ``save`` updates only the version it read, then
appends just the history entries added since that read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Insert,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine, StatusChange
from reference_impl.domain.order_status import OrderStatus
from reference_impl.service.ports import ConcurrentUpdate, DuplicateIdempotencyKey
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, DialectInsert, dialect_insert
from reference_impl.storage.driver import execute

#: Ids per ``IN (...)`` when loading the lines of many orders (both drivers cap parameters).
_IN_CHUNK = 500

_PENDING = OrderStatus.PENDING_PAYMENT.value


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


def _selection(kind: str) -> tuple[ColumnElement[bool] | None, tuple[str, ...], bool]:
    """(filter, sort columns, limited) of each way of choosing orders."""
    o = t.orders.c
    return {
        "by_id": (o.order_id == bindparam("order_id"), ("order_id",), False),
        "by_key": (
            (o.owner_id == bindparam("owner_id")) & (o.idempotency_key == bindparam("key")),
            ("order_id",),
            False,
        ),
        "due": (
            (o.status == _PENDING) & o.expires_at.is_not(None) & (o.expires_at <= bindparam("now")),
            ("expires_at", "order_id"),
            True,
        ),
        "by_status": (o.status == bindparam("status"), ("created_at", "order_id"), False),
        "all": (None, ("created_at", "order_id"), False),
    }[kind]


@cache
def _orders_with_history(kind: str) -> Select[Any]:
    """Chosen orders joined with their history: one statement, so one snapshot."""
    where, order_by, limited = _selection(kind)
    h = t.order_history
    chosen = select(t.orders)
    if where is not None:
        chosen = chosen.where(where)
    if limited:
        chosen = chosen.order_by(*(t.orders.c[name] for name in order_by))
        chosen = chosen.limit(bindparam("limit"))
    o = chosen.subquery()
    return (
        select(o, h.c.status.label("h_status"), h.c.at.label("h_at"), h.c.reason.label("h_reason"))
        .select_from(o.outerjoin(h, h.c.order_id == o.c.order_id))
        .order_by(*(o.c[name] for name in order_by), h.c.position)
    )


@cache
def _lines_of_orders(one: bool) -> Select[Any]:
    ol = t.order_lines
    # One order (the hot path: every request reads one) skips the expanding IN, whose
    # rendering at each execution costs more than the query itself.
    where = (
        ol.c.order_id == bindparam("order_id")
        if one
        else ol.c.order_id.in_(bindparam("order_ids", expanding=True))
    )
    return select(ol).where(where).order_by(ol.c.order_id, ol.c.position)


@cache
def _next_expiry() -> Select[Any]:
    o = t.orders.c
    return select(func.min(o.expires_at).label("soonest")).where(o.status == _PENDING)


@cache
def _add(dialect: str, with_key: bool) -> DialectInsert:
    stmt = dialect_insert(dialect, t.orders)
    if with_key:
        # A clash on the key (I9) is reported by the row count, not by a failed insert,
        # which would abort the whole PostgreSQL transaction.
        return stmt.on_conflict_do_nothing(index_elements=["owner_id", "idempotency_key"])
    return stmt


_LINE_COLUMNS = ("position", "variant_id", "location_id", "quantity", "unit_price_amount",
                 "unit_price_currency")
_HISTORY_COLUMNS = ("position", "status", "at", "reason")


def _unnested_children(table: Table, columns: tuple[str, ...], new_order: Any) -> Any:
    """``INSERT INTO table SELECT new_order.order_id, unnest(:table_col), ...``: a child row
    per element of the arrays, for the order that ``new_order`` inserted (none if it did not)."""
    arrays = (
        func.unnest(bindparam(f"{table.name}_{name}", type_=postgresql.ARRAY(table.c[name].type)))
        for name in columns
    )
    return table.insert().from_select(
        ["order_id", *columns], select(new_order.c.order_id, *arrays)
    ).cte(f"new_{table.name}")


@cache
def _add_with_children(with_key: bool) -> Select[Any]:
    """PostgreSQL: the order, its lines and its history in one statement, whose one row
    counts the orders inserted (0: the idempotency key clashed, and nothing was written).

    Three inserts were three round trips, each taken while the group committer's batch holds
    the lock that the other server processes wait for.
    """
    new_order = (
        _add("postgresql", with_key)
        .values({column.name: bindparam(column.name) for column in t.orders.c})
        .returning(t.orders.c.order_id)
        .cte("new_order")
    )
    return (
        select(func.count().label("inserted"))
        .select_from(new_order)
        .add_cte(
            _unnested_children(t.order_lines, _LINE_COLUMNS, new_order),
            _unnested_children(t.order_history, _HISTORY_COLUMNS, new_order),
        )
    )


def _children_as_arrays(order: Order) -> dict[str, list[Any]]:
    """The parameters of ``_add_with_children`` for the order's lines and history."""
    params: dict[str, list[Any]] = {}
    for table, columns, rows in (
        (t.order_lines, _LINE_COLUMNS, _line_rows(order.order_id, order.lines)),
        (t.order_history, _HISTORY_COLUMNS, _history_rows(order.order_id, order.history)),
    ):
        for name in columns:
            params[f"{table.name}_{name}"] = [row[name] for row in rows]
    return params


@cache
def _save() -> Update:
    # SET takes every column given at execution; the b_ names keep the WHERE apart.
    o = t.orders.c
    return update(t.orders).where(
        (o.order_id == bindparam("b_order_id")) & (o.version == bindparam("b_version"))
    )


@cache
def _insert_children(table: Table) -> Insert:
    return table.insert()


@cache
def _delete_children(table: Table) -> Delete:
    return delete(table).where(table.c.order_id == bindparam("b_order_id"))


class SqlOrders:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # (lines, history) as last read or written in this unit, so that ``save`` writes
        # only what changed. Without an entry, ``save`` rewrites the children.
        self._known: dict[str, tuple[tuple[OrderLine, ...], tuple[StatusChange, ...]]] = {}

    def forget(self) -> None:
        self._known.clear()

    # -- reads -----------------------------------------------------------------------

    def _load(self, kind: str, **params: Any) -> list[Order]:
        conn = self._slot.conn
        rows = execute(conn, _orders_with_history(kind), params).all()
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
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            rows = execute(
            self._slot.conn,
                _lines_of_orders(len(chunk) == 1),
                {"order_id": chunk[0]} if len(chunk) == 1 else {"order_ids": chunk},
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
        found = self._load("by_id", order_id=order_id)
        return found[0] if found else None

    def find_by_idempotency_key(self, owner_id: str, key: str) -> Order | None:
        found = self._load("by_key", owner_id=owner_id, key=key)
        return found[0] if found else None

    def due_for_expiry(self, now: float, limit: int) -> list[Order]:
        return self._load("due", now=now, limit=limit)

    def next_expiry(self) -> float | None:
        soonest: float | None = execute(self._slot.conn, _next_expiry()).scalar()
        return soonest

    def list(self, status: OrderStatus | None = None) -> list[Order]:
        if status is None:
            return self._load("all")
        return self._load("by_status", status=status.value)

    # -- writes ----------------------------------------------------------------------

    def add(self, order: Order) -> None:
        conn = self._slot.conn
        if conn.dialect.name == "postgresql":
            params = _order_row(order)
            params.update(_children_as_arrays(order))
            statement = _add_with_children(bool(order.idempotency_key))
            if execute(conn, statement, params).scalar_one() != 1:
                raise DuplicateIdempotencyKey(order.idempotency_key)
            self._known[order.order_id] = (order.lines, tuple(order.history))
            return
        inserted = execute(
            conn,
            _add(conn.dialect.name, bool(order.idempotency_key)),
            _order_row(order),
        ).rowcount
        if inserted != 1:
            raise DuplicateIdempotencyKey(order.idempotency_key)
        self._write_children(order, None, existing=False)

    def adopt(self, order: Order) -> None:
        # The version check of ``save`` proves the rows still hold these children.
        self._known[order.order_id] = (order.lines, tuple(order.history))

    def save(self, order: Order) -> None:
        row = _order_row(order)
        row.update(version=order.version + 1, b_order_id=order.order_id, b_version=order.version)
        if execute(self._slot.conn, _save(), row).rowcount != 1:
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
                execute(conn, _delete_children(t.order_lines), {"b_order_id": order_id})
            if order.lines:
                execute(conn, _insert_children(t.order_lines), _line_rows(order_id, order.lines))
        if known is not None and history[: len(known[1])] == known[1]:
            added = _history_rows(order_id, history[len(known[1]) :], start=len(known[1]))
        else:
            if existing:
                execute(conn, _delete_children(t.order_history), {"b_order_id": order_id})
            added = _history_rows(order_id, history)
        if added:
            execute(conn, _insert_children(t.order_history), added)
        self._known[order_id] = (order.lines, history)
