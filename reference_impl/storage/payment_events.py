"""The payment event log: one row per webhook event id (I3)."""

from __future__ import annotations

from sqlalchemy import select

from reference_impl.service.ports import RecordedPaymentEvent
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot, insert


class SqlPaymentEvents:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def record(self, event: RecordedPaymentEvent) -> bool:
        conn = self._slot.conn
        # ON CONFLICT DO NOTHING rather than catching a failed insert: on PostgreSQL a
        # failed statement aborts the transaction, and a concurrent redelivery waits here
        # for the first one to commit, then sees a row count of 0.
        stmt = (
            insert(conn, t.payment_events)
            .values(
                event_id=event.event_id,
                order_id=event.order_id,
                outcome=event.outcome,
                verdict=event.verdict,
                received_at=event.received_at,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )
        return conn.execute(stmt).rowcount == 1

    def list(self, order_id: str | None = None) -> list[RecordedPaymentEvent]:
        e = t.payment_events
        query = select(e).order_by(e.c.received_at, e.c.event_id)
        if order_id is not None:
            query = query.where(e.c.order_id == order_id)
        return [
            RecordedPaymentEvent(r.event_id, r.order_id, r.outcome, r.verdict, r.received_at)
            for r in self._slot.conn.execute(query)
        ]
