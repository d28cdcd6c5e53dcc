"""The actor-to-actor trace (DESIGN.md section 7), written in one batch per commit."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Select, bindparam, select

from reference_impl.domain.trace import MessageKind, TraceEvent
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot
from reference_impl.storage.driver import execute


@cache
def _insert() -> Insert:
    return t.traces.insert()


@cache
def _events(of_one_correlation: bool) -> Select[Any]:
    tr = t.traces.c
    # Sorted by time, then as recorded, like the in-memory log.
    query = select(t.traces).order_by(tr.at, tr.trace_id)
    if of_one_correlation:
        return query.where(tr.correlation_id == bindparam("correlation_id"))
    return query


class SqlTraces:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # A request records a dozen events one by one; ``flush`` inserts them together in
        # one executemany, at commit or before a read.
        self._pending: list[TraceEvent] = []

    def record(self, event: TraceEvent) -> None:
        self._slot.check_open()  # fail here, not at a later commit
        self._pending.append(event)

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [
            {
                "source": e.source,
                "target": e.target,
                "message": e.message,
                "correlation_id": e.correlation_id,
                "at": e.at,
                "kind": str(e.kind),
            }
            for e in self._pending
        ]
        execute(self._slot.conn, _insert(), rows)
        self._pending.clear()

    def discard(self) -> None:
        self._pending.clear()

    def list(self, correlation_id: str | None = None) -> list[TraceEvent]:
        self.flush()
        rows = execute(
            self._slot.conn,
            _events(correlation_id is not None), {"correlation_id": correlation_id}
        )
        return [
            TraceEvent(r.source, r.target, r.message, r.correlation_id, r.at, MessageKind(r.kind))
            for r in rows
        ]
