"""Stock levels, moved only by guarded conditional updates (I1; STYLE.md "Concurrency").

``SELECT ... FOR UPDATE`` is a no-op on SQLite, so no move reads before it writes: each
move is one ``UPDATE stock SET src = src - :q, dst = dst + :q WHERE ... AND src >= :q``
and a row count of 0 means a shortage. The database applies the guard atomically, so two
buyers racing for the last unit cannot both get it on either database.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    Row,
    Select,
    Update,
    bindparam,
    select,
    update,
)

from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import MOVE_BUCKETS, Bucket, MoveKind, StockLevel, StockMove
from reference_impl.storage import tables as t
from reference_impl.storage._sql import NOT_READ, STOCK, ConnectionSlot, dialect_insert
from reference_impl.storage.driver import execute


def level_from(row: Row[Any]) -> StockLevel:
    return StockLevel(
        row.variant_id, row.location_id, row.on_hand, row.reserved, row.sold, row.received
    )


def _this_row() -> ColumnElement[bool]:
    s = t.stock.c
    return (s.variant_id == bindparam("v")) & (s.location_id == bindparam("l"))


@cache
def _move(kind: MoveKind) -> Update:
    """The one guarded statement of a ``kind`` move (parameters v, l, q)."""
    s = t.stock
    source, target = MOVE_BUCKETS[kind]
    quantity: BindParameter[int] = bindparam("q", type_=Integer)
    into = s.c[target.value]
    if source is None:  # goods in: counted as received as well as on hand
        return (
            update(s)
            .where(_this_row())
            .values({into: into + quantity, s.c.received: s.c.received + quantity})
        )
    out_of = s.c[source.value]
    return (
        update(s)
        .where(_this_row() & (out_of >= quantity))
        .values({out_of: out_of - quantity, into: into + quantity})
    )


@cache
def _level_by_key() -> Select[Any]:
    return select(t.stock).where(_this_row())


@cache
def _levels(of_one_variant: bool) -> Select[Any]:
    s = t.stock
    query = select(s).order_by(s.c.variant_id, s.c.location_id)
    return query.where(s.c.variant_id == bindparam("v")) if of_one_variant else query


@cache
def _ensure(dialect: str) -> Any:
    return (
        dialect_insert(dialect, t.stock)
        .values(
            variant_id=bindparam("v"),
            location_id=bindparam("l"),
            on_hand=0,
            reserved=0,
            sold=0,
            received=0,
        )
        .on_conflict_do_nothing(index_elements=["variant_id", "location_id"])
    )


class SqlStock:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def get(self, variant_id: str, location_id: str) -> StockLevel | None:
        # A level is mutable (``StockLevel.apply``): one read ahead is handed out once.
        known = self._slot.ahead.pop((STOCK, variant_id, location_id), NOT_READ)
        if known is not NOT_READ:
            return known  # type: ignore[no-any-return]  # a StockLevel or None
        row = execute(self._slot.conn, _level_by_key(), {"v": variant_id, "l": location_id}).first()
        return level_from(row) if row else None

    def list(self, variant_id: str | None = None) -> list[StockLevel]:
        rows = execute(self._slot.conn, _levels(variant_id is not None), {"v": variant_id})
        return [level_from(row) for row in rows]

    def ensure(self, variant_id: str, location_id: str) -> None:
        conn = self._slot.conn
        self._slot.drop_ahead(STOCK)
        execute(conn, _ensure(conn.dialect.name), {"v": variant_id, "l": location_id})

    def apply(self, moves: Sequence[StockMove]) -> None:
        if not moves:
            return
        conn = self._slot.conn
        self._slot.drop_ahead(STOCK)
        # A stable sort by row gives every transaction the same lock order, so two orders
        # touching the same two rows cannot deadlock on PostgreSQL; moves of one row keep
        # their order, and moves of different rows do not depend on one another.
        ordered = sorted(moves, key=lambda m: (m.variant_id, m.location_id))
        if len(ordered) == 1:
            # One statement is atomic by itself: no savepoint round trips needed.
            if self._try(ordered[0]) != 1:
                raise self._shortage(ordered[0])
            return
        savepoint = conn.begin_nested()
        for move in ordered:
            if self._try(move) != 1:
                # Read before undoing, so that the message counts this call's earlier
                # moves, as the in-memory store's scratch copy does.
                error = self._shortage(move)
                savepoint.rollback()
                raise error
        savepoint.commit()

    def _try(self, move: StockMove) -> int:
        """Run one guarded move; the row count says whether the guard held."""
        params = {"v": move.variant_id, "l": move.location_id, "q": move.quantity}
        return execute(self._slot.conn, _move(move.kind), params).rowcount

    def _shortage(self, move: StockMove) -> InsufficientInventory:
        """The domain's own error for ``move`` against the level as it is now."""
        level = self.get(move.variant_id, move.location_id)
        if level is None:
            return InsufficientInventory(f"no stock of {move.variant_id} at {move.location_id}")
        try:
            level.apply(move)
        except InsufficientInventory as error:
            return error
        # PostgreSQL at READ COMMITTED: units freed by a commit after our update was
        # refused; the move was refused all the same.
        held = level.holds(move.source) if move.source else 0
        return InsufficientInventory(
            f"{move.kind} {move.quantity} of {move.variant_id} at {move.location_id}: "
            f"only {held} {move.source or Bucket.ON_HAND} when tried"
        )
