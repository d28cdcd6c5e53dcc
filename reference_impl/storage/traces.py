"""The actor-to-actor trace (DESIGN.md section 7), written in one batch per commit.

A flush writes one row per correlation id, its new events in a JSON array (tables.py); a
read flattens the rows of a correlation in the order they were written and sorts the
events by time, stably, which is the order of the former row per event (time, then as
recorded).
"""

from __future__ import annotations

import json
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
    query = select(tr.correlation_id, tr.events).order_by(tr.trace_id)
    if of_one_correlation:
        return query.where(tr.correlation_id == bindparam("correlation_id"))
    return query


class SqlTraces:
    def __init__(self, slot: ConnectionSlot) -> None:
        self._slot = slot
        # A request records a dozen events one by one; ``flush`` writes them at commit or
        # before a read, one row per correlation id.
        self._pending: list[TraceEvent] = []

    def record(self, event: TraceEvent) -> None:
        self._slot.check_open()  # fail here, not at a later commit
        self._pending.append(event)

    def flush(self) -> None:
        if not self._pending:
            return
        by_correlation: dict[str, list[tuple[str, str, str, float, str]]] = {}
        for e in self._pending:
            by_correlation.setdefault(e.correlation_id, []).append(
                (e.source, e.target, e.message, e.at, e.kind.value)
            )
        rows = [
            {"correlation_id": correlation_id, "events": json.dumps(events, separators=(",", ":"))}
            for correlation_id, events in by_correlation.items()
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
        events = [
            TraceEvent(source, target, message, r.correlation_id, at, MessageKind(kind))
            for r in rows
            for source, target, message, at, kind in json.loads(r.events)
        ]
        # Sorted by time, then as recorded (``sort`` is stable), like the in-memory log.
        events.sort(key=lambda e: e.at)
        return events
