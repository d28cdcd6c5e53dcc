"""The payment event log: one row per webhook event id (I3)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select

from reference_impl.service.ports import RecordedPaymentEvent
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, DialectInsert, dialect_insert
from reference_impl.storage.driver import execute


@cache
def _record(dialect: str) -> DialectInsert:
    # ON CONFLICT DO NOTHING rather than catching a failed insert: on PostgreSQL a failed
    # statement aborts the transaction, and a concurrent redelivery waits here for the
    # first one to commit, then sees a row count of 0.
    return dialect_insert(dialect, t.payment_events).on_conflict_do_nothing(
        index_elements=["event_id"]
    )


@cache
def _events(of_one_order: bool) -> Select[Any]:
    e = t.payment_events
    query = select(e).order_by(e.c.received_at, e.c.event_id)
    return query.where(e.c.order_id == bindparam("order_id")) if of_one_order else query


class SqlPaymentEvents:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def record(self, event: RecordedPaymentEvent) -> bool:
        conn = self._slot.conn
        inserted = execute(
            conn,
            _record(conn.dialect.name),
            {
                "event_id": event.event_id,
                "order_id": event.order_id,
                "outcome": event.outcome,
                "verdict": event.verdict,
                "received_at": event.received_at,
            },
        ).rowcount
        return inserted == 1

    def list(self, order_id: str | None = None) -> list[RecordedPaymentEvent]:
        rows = execute(self._slot.conn, _events(order_id is not None), {"order_id": order_id})
        return [
            RecordedPaymentEvent(r.event_id, r.order_id, r.outcome, r.verdict, r.received_at)
            for r in rows
        ]
