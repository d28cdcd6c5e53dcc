"""Stock levels, moved only by guarded conditional updates (I1; STYLE.md "Concurrency").

``SELECT ... FOR UPDATE`` is a no-op on SQLite, so no move reads before it writes: each
move is one ``UPDATE stock SET src = src - :q, dst = dst + :q WHERE ... AND src >= :q``
and a row count of 0 means a shortage. The database applies the guard atomically, so two
buyers racing for the last unit cannot both get it on either database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select, update

from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import Bucket, StockLevel, StockMove
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, insert


def _level(row: Row[Any]) -> StockLevel:
    return StockLevel(
        row.variant_id, row.location_id, row.on_hand, row.reserved, row.sold, row.received
    )


def _guarded_update(move: StockMove) -> Any:
    s = t.stock
    where = (s.c.variant_id == move.variant_id) & (s.c.location_id == move.location_id)
    target = s.c[move.target.value]
    if move.source is None:  # goods in: counted as received as well as on hand
        return update(s).where(where).values(
            {target: target + move.quantity, s.c.received: s.c.received + move.quantity}
        )
    source = s.c[move.source.value]
    return (
        update(s)
        .where(where & (source >= move.quantity))
        .values({source: source - move.quantity, target: target + move.quantity})
    )


class SqlStock:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def get(self, variant_id: str, location_id: str) -> StockLevel | None:
        s = t.stock
        row = self._slot.conn.execute(
            select(s).where((s.c.variant_id == variant_id) & (s.c.location_id == location_id))
        ).first()
        return _level(row) if row else None

    def list(self, variant_id: str | None = None) -> list[StockLevel]:
        s = t.stock
        query = select(s).order_by(s.c.variant_id, s.c.location_id)
        if variant_id is not None:
            query = query.where(s.c.variant_id == variant_id)
        return [_level(row) for row in self._slot.conn.execute(query)]

    def ensure(self, variant_id: str, location_id: str) -> None:
        conn = self._slot.conn
        conn.execute(
            insert(conn, t.stock)
            .values(
                variant_id=variant_id,
                location_id=location_id,
                on_hand=0,
                reserved=0,
                sold=0,
                received=0,
            )
            .on_conflict_do_nothing(index_elements=["variant_id", "location_id"])
        )

    def apply(self, moves: Sequence[StockMove]) -> None:
        if not moves:
            return
        conn = self._slot.conn
        # A stable sort by row gives every transaction the same lock order, so two orders
        # touching the same two rows cannot deadlock on PostgreSQL; moves of one row keep
        # their order, and moves of different rows do not depend on one another.
        ordered = sorted(moves, key=lambda m: (m.variant_id, m.location_id))
        if len(ordered) == 1:
            # One statement is atomic by itself: no savepoint round trips needed.
            if conn.execute(_guarded_update(ordered[0])).rowcount != 1:
                raise self._shortage(ordered[0])
            return
        savepoint = conn.begin_nested()
        for move in ordered:
            if conn.execute(_guarded_update(move)).rowcount != 1:
                # Read before undoing, so that the message counts this call's earlier
                # moves, as the in-memory store's scratch copy does.
                error = self._shortage(move)
                savepoint.rollback()
                raise error
        savepoint.commit()

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
