"""Running a request's storage work off the server's event loop, and storing its trace.

The order path of the HTTP server is async (it awaits the gateway without holding a
thread); its units of work block (SQLite, psycopg), so they run on a ``UnitRunner``:

* ``ThreadedUnitRunner`` (here): each unit in a pool thread, in its own transactions, on
  any storage. The in-memory store uses it.
* ``storage.group_commit.GroupCommitter``: one writer thread that runs the units waiting
  at the same moment in one transaction (group commit), on SQLite and PostgreSQL.

A unit is a callable that takes a fresh ``UnitOfWork`` and calls one service handler with
it. Whatever the runner, the trace events that the request recorded up to the end of the
unit are stored when the unit's future completes (see ``StoredTraceRecorder``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol, TypeVar, runtime_checkable

from reference_impl.domain.errors import DomainError
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import StoredTraceRecorder, Trace

T = TypeVar("T")


class UnitRunner(Protocol):
    def submit(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> Future[T]: ...

    async def run(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> T:
        """``submit``, awaited on the caller's event loop."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class JournalingUnitOfWork(Protocol):
    """A unit of work that stores a recorder's new events at each of its commits."""

    def journal(self, recorder: StoredTraceRecorder | None) -> None: ...


def stored_recorder(trace: Trace) -> StoredTraceRecorder | None:
    recorder = trace.recorder
    return recorder if isinstance(recorder, StoredTraceRecorder) else None


def store_unstored(uow: UnitOfWork, recorder: StoredTraceRecorder) -> None:
    """Store the events recorded since the last store, in a transaction of their own."""
    events = recorder.unstored()
    if not events:
        return
    with uow:
        for event in events:
            uow.traces.record(event)
        uow.commit()
    recorder.stored += len(events)


def run_unit(
    uow_factory: Callable[[], UnitOfWork], unit: Callable[[UnitOfWork], T], trace: Trace
) -> T:
    """Run ``unit`` here; its trace events go in with its commits, the rest after it."""
    recorder = stored_recorder(trace)
    uow = uow_factory()
    if recorder is not None and isinstance(uow, JournalingUnitOfWork):
        uow.journal(recorder)
    if recorder is None:
        return unit(uow)
    try:
        result = unit(uow)
    except DomainError:
        # A refusal (409, 404...) rolled back, so its messages are still to store.
        store_unstored(uow_factory(), recorder)
        raise
    # And so are the messages recorded after the unit's last commit. (After any other
    # error the storage itself may be what failed: the trace is left, not the error hidden.)
    store_unstored(uow_factory(), recorder)
    return result


class ThreadedUnitRunner:
    """Each unit in a pool thread: as concurrent as the storage allows."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], threads: int = 40) -> None:
        # 40: as many as the server's default thread pool (anyio's), which the sync
        # endpoints share; storage that serializes writers gains nothing from more.
        self._uow_factory = uow_factory
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="purchaseflow-unit")

    def submit(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> Future[T]:
        return self._pool.submit(run_unit, self._uow_factory, unit, trace)

    async def run(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> T:
        return await asyncio.wrap_future(self.submit(unit, trace))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
