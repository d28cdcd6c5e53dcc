"""The actor-to-actor trace (DESIGN.md section 7), written in one batch per commit."""

from __future__ import annotations

from sqlalchemy import select

from reference_impl.domain.trace import MessageKind, TraceEvent
from reference_impl.storage import tables as t
from reference_impl.storage._sql import ConnectionSlot


class SqlTraces:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # A request records a dozen events one by one; they are inserted together by
        # ``flush`` (at commit, or before a read) in one executemany.
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
                "kind": e.kind.value,
            }
            for e in self._pending
        ]
        self._slot.conn.execute(t.traces.insert(), rows)
        self._pending.clear()

    def discard(self) -> None:
        self._pending.clear()

    def list(self, correlation_id: str | None = None) -> list[TraceEvent]:
        self.flush()
        tr = t.traces.c
        # Sorted by time, then as recorded, like the in-memory log.
        query = select(t.traces).order_by(tr.at, tr.trace_id)
        if correlation_id is not None:
            query = query.where(tr.correlation_id == correlation_id)
        return [
            TraceEvent(r.source, r.target, r.message, r.correlation_id, r.at, MessageKind(r.kind))
            for r in self._slot.conn.execute(query)
        ]
