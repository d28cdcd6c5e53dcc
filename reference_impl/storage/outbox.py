"""The outbox: messages committed with the change that caused them, sent afterwards (I7)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select, update

from reference_impl.service.ports import OutboxMessage
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        row.message_id, row.kind, row.order_id, row.payload, row.created_at, row.sent_at,
        row.attempts,
    )


class SqlOutbox:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def add(self, kind: str, order_id: str, payload: dict[str, Any], now: float) -> None:
        self._slot.conn.execute(
            t.outbox.insert().values(
                kind=kind, order_id=order_id, payload=payload, created_at=now, attempts=0
            )
        )

    def pending(self, kind: str, limit: int) -> list[OutboxMessage]:
        m = t.outbox.c
        query = (
            select(t.outbox)
            .where(m.sent_at.is_(None) & (m.kind == kind))
            .order_by(m.message_id)
            .limit(limit)
        )
        return [_message(row) for row in self._slot.conn.execute(query)]

    def mark_sent(self, message_id: int, now: float) -> None:
        m = t.outbox.c
        self._slot.conn.execute(
            update(t.outbox)
            .where(m.message_id == message_id)
            .values(sent_at=now, attempts=m.attempts + 1)
        )

    def mark_failed(self, message_id: int) -> None:
        m = t.outbox.c
        self._slot.conn.execute(
            update(t.outbox).where(m.message_id == message_id).values(attempts=m.attempts + 1)
        )

    def list(self, order_id: str | None = None) -> list[OutboxMessage]:
        m = t.outbox.c
        query = select(t.outbox).order_by(m.message_id)
        if order_id is not None:
            query = query.where(m.order_id == order_id)
        return [_message(row) for row in self._slot.conn.execute(query)]
