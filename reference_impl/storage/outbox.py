"""The outbox: messages committed with the change that caused them, sent afterwards (I7)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Row, Select, Update, bindparam, select, update

from reference_impl.service.ports import OutboxMessage
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot
from reference_impl.storage.driver import execute


def _message(row: Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        row.message_id, row.kind, row.order_id, row.payload, row.created_at, row.sent_at,
        row.attempts, row.claimed_at,
    )


@cache
def _add() -> Insert:
    return t.outbox.insert()


@cache
def _pending() -> Select[Any]:
    m = t.outbox.c
    return (
        select(t.outbox)
        .where(m.sent_at.is_(None) & (m.kind == bindparam("kind")))
        .order_by(m.message_id)
        .limit(bindparam("limit"))
    )


@cache
def _claim() -> Update:
    # One guarded update: of two processes claiming at once, one matches and one does not.
    m = t.outbox.c
    free = m.claimed_at.is_(None) | (m.claimed_at <= bindparam("lease_start"))
    return (
        update(t.outbox)
        .where((m.message_id == bindparam("id")) & m.sent_at.is_(None) & free)
        .values(claimed_at=bindparam("now"))
    )


@cache
def _attempted(sent: bool) -> Update:
    m = t.outbox.c
    stmt = update(t.outbox).where(m.message_id == bindparam("id"))
    if sent:
        return stmt.values(sent_at=bindparam("now"), attempts=m.attempts + 1)
    # A failed send frees the message for the next round at once.
    return stmt.values(attempts=m.attempts + 1, claimed_at=None)


@cache
def _messages(of_one_order: bool) -> Select[Any]:
    m = t.outbox.c
    query = select(t.outbox).order_by(m.message_id)
    return query.where(m.order_id == bindparam("order_id")) if of_one_order else query


class SqlOutbox:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot

    def add(self, kind: str, order_id: str, payload: dict[str, Any], now: float) -> None:
        execute(
            self._slot.conn,
            _add(),
            {"kind": kind, "order_id": order_id, "payload": payload, "created_at": now,
             "attempts": 0},
        )

    def pending(self, kind: str, limit: int) -> list[OutboxMessage]:
        rows = execute(self._slot.conn, _pending(), {"kind": kind, "limit": limit})
        return [_message(row) for row in rows]

    def claim(self, message_id: int, now: float, lease: float) -> bool:
        params = {"id": message_id, "now": now, "lease_start": now - lease}
        return execute(self._slot.conn, _claim(), params).rowcount == 1

    def mark_sent(self, message_id: int, now: float) -> None:
        execute(self._slot.conn, _attempted(True), {"id": message_id, "now": now})

    def mark_failed(self, message_id: int) -> None:
        execute(self._slot.conn, _attempted(False), {"id": message_id})

    def list(self, order_id: str | None = None) -> list[OutboxMessage]:
        rows = execute(self._slot.conn, _messages(order_id is not None), {"order_id": order_id})
        return [_message(row) for row in rows]
