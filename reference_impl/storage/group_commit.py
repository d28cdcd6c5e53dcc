"""Group commit: the units of work waiting at the same moment share a transaction.

SQLite lets one writer in at a time, so under load the order path's transactions queue at
the writer lock (``turnstile.py``), and each pays for its own lock hand-over, BEGIN and
COMMIT while the rest wait. Here one thread per server process writes instead: it takes
every unit that is waiting, runs them one after another in one ``BEGIN IMMEDIATE`` ...
``COMMIT``, each inside its own SAVEPOINT, and only then answers their callers. A unit that
is refused (a domain error: sold out, not found) or loses a race rolls back to its
savepoint and leaves its neighbours' work alone, exactly as its own transaction would; no
caller hears of a write before it is committed. If anything else breaks a batch, it is
rolled back and its units run again one transaction each, so that one bad unit cannot fail
the others. The trace events of every unit go in with the batch (``StoredTraceRecorder``).

On PostgreSQL the same batching saves a BEGIN, a COMMIT (a WAL flush) and a trace insert
per unit, and the psycopg work of each: in our benchmark an order cost the shop a fifth
less CPU and the database server two fifths less than with a transaction per unit. There
the batches of the server's processes take turns through a transaction-scoped advisory
lock, as SQLite's take turns through its write lock: two batches that each hold rows the
other wants would otherwise deadlock, and PostgreSQL would break the tie only after
``deadlock_timeout`` by failing one of them.

This is the classic group commit of database engines (PostgreSQL's ``commit_delay``, the
WAL writers of InnoDB), done in the application for the units a server process has waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Executable, TextClause, func, select, text

from reference_impl.domain.errors import DomainError
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import StoredTraceRecorder, Trace
from reference_impl.service.units import stored_recorder
from reference_impl.storage import writer_priority
from reference_impl.storage._sql import ConnectionSlot
from reference_impl.storage.driver import execute
from reference_impl.storage.engine import writer_turnstile
from reference_impl.storage.traces import SqlTraces
from reference_impl.storage.turnstile import WriterLockTimeout
from reference_impl.storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger("purchaseflow.storage")

T = TypeVar("T")

#: The most units in one transaction: enough for every request a 2-worker server has in
#: flight at 50 concurrent clients, few enough that a batch stays a few milliseconds long.
MAX_BATCH = 64
#: The first key of PostgreSQL's advisory lock that batches take turns on ("pfgc"); the
#: second is the schema's, so that stores in different schemas do not wait for each other.
BATCH_LOCK_CLASS = 0x7066_6763


def batch_lock(function: Any = func.pg_advisory_xact_lock) -> Executable:
    """The statement that takes (or, given another function, tries) the batch lock."""
    # Labelled, so that the driver's fast path runs it (driver.py): once per batch.
    return select(
        function(BATCH_LOCK_CLASS, func.hashtext(func.current_schema())).label("locked")
    )


# Written out rather than SQLAlchemy's ``begin_nested``: its bookkeeping cost as much as a
# unit's reads, and a unit's savepoint never outlives the next unit's start.
_SAVEPOINT = text("SAVEPOINT unit_of_work")
_RELEASE = text("RELEASE SAVEPOINT unit_of_work")
_ROLLBACK_TO = text("ROLLBACK TO SAVEPOINT unit_of_work")  # and the savepoint stays open
_RELEASE_THEN_SAVEPOINT = (_RELEASE, _SAVEPOINT)
_UNDO = (_ROLLBACK_TO, _RELEASE)
# The same pairs as one statement list each, for PostgreSQL: one round trip (psycopg sends
# a list without parameters by the simple query protocol, and never prepares it). SQLite's
# driver takes one statement at a time.
_IN_ONE_TRIP = {
    pair: text("; ".join(str(statement) for statement in pair))
    for pair in (_RELEASE_THEN_SAVEPOINT, _UNDO)
}


class _Savepoints:
    """A batch's savepoint, handed from unit to unit.

    A unit's commit leaves its savepoint to be released by the next unit's start, in the
    same round trip as that unit's SAVEPOINT, or by the batch's COMMIT (which releases every
    savepoint): on PostgreSQL, where each statement is a round trip to the server while the
    batch holds the lock that the other server processes' batches wait for, a unit pays one
    round trip for its savepoint where it paid two.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._one_trip = connection.dialect.name == "postgresql"
        self._unreleased = False  # a committed unit's savepoint is still open

    def _send(self, pair: tuple[TextClause, TextClause]) -> None:
        if self._one_trip:
            execute(self._connection, _IN_ONE_TRIP[pair])
        else:
            for statement in pair:
                execute(self._connection, statement)

    def open(self) -> None:
        if self._unreleased:
            self._unreleased = False
            self._send(_RELEASE_THEN_SAVEPOINT)
        else:
            execute(self._connection, _SAVEPOINT)

    def keep(self) -> None:
        """The unit committed: what it did stays, whatever the units after it do."""
        self._unreleased = True

    def undo(self) -> None:
        self._send(_UNDO)


class SavepointUnitOfWork(SqlUnitOfWork):
    """A unit of work inside a batch: ``with uow:`` is a SAVEPOINT, ``commit`` keeps it."""

    def __init__(self, engine: Engine, connection: Connection, savepoints: _Savepoints) -> None:
        super().__init__(engine)
        self._turnstile = None  # the batch holds the writer lock
        self._connection = connection
        self._savepoints = savepoints
        self._open = False  # whether this unit's savepoint is open

    def __enter__(self) -> SavepointUnitOfWork:
        if self._slot.current is not None:
            raise RuntimeError("this unit of work is already open")
        self._savepoints.open()
        self._open = True
        self._slot.current = self._connection
        self._forget()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._slot.current = None
        self._forget()
        if self._open:
            self._open = False
            self._savepoints.undo()

    def commit(self) -> None:
        self._traces.flush()
        if not self._open:
            raise RuntimeError("commit outside `with uow:`")
        self._savepoints.keep()
        self._open = False
        # Statements after a commit (none of the handlers makes any) would join the batch,
        # where a plain unit would have begun a new transaction and rolled it back.

    def rollback(self) -> None:
        if self._open:
            execute(self._connection, _ROLLBACK_TO)
        else:
            self._savepoints.open()
        self._open = True
        self._forget()


@dataclass(slots=True)
class _Job:
    unit: Callable[[UnitOfWork], Any]
    trace: Trace
    future: Future[Any] | asyncio.Future[Any]  # ``submit``'s, or ``run``'s on its loop
    mark: int = 0  # how many events the request had recorded when the unit began


Outcome = tuple[bool, Any]  # (True, the unit's value) or (False, what it raised)


class GroupCommitter:
    """A ``UnitRunner``: one writer thread, one transaction per batch of units."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH, priority: int = 0) -> None:
        self._engine = engine
        self._priority = priority  # nice levels above the thread that starts it
        self._turnstile = writer_turnstile(engine)
        self._batch_lock = batch_lock() if engine.dialect.name == "postgresql" else None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(
            target=self._serve, name="purchaseflow-group-commit", daemon=True
        )
        self._thread.start()

    def submit(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> Future[T]:
        if self._closed:
            raise RuntimeError("the group committer is closed")
        future: Future[T] = Future()
        self._queue.put(_Job(unit, trace, future))
        return future

    async def run(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> T:
        """``submit`` for a caller on an event loop, answered with the rest of its batch.

        A batch's answers reach each loop in one ``call_soon_threadsafe``, where a
        ``concurrent.futures.Future`` per unit would wake the loop once per unit (a write
        to its self-pipe from here, a wake-up and a read there), which the orders of a
        batch of ten paid ten times.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(unit, trace, future))
        return await future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _serve(self) -> None:
        if self._priority:
            try:
                writer_priority.raise_this_thread(self._priority)
            except writer_priority.WriterPriorityError as exc:
                log.warning("%s: the writer runs at its usual priority", exc)
        while True:
            job = self._queue.get()
            if job is None:
                return
            batch = [job] if _wanted(job) else []
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._run(batch)
                    return
                if _wanted(more):
                    batch.append(more)
            self._run(batch)

    def _run(self, batch: list[_Job]) -> None:
        if not batch:
            return
        try:
            outcomes = self._commit_together(batch)
        except BaseException as exc:
            if len(batch) == 1 or isinstance(exc, WriterLockTimeout):
                # Alone, or the writer lock never came: nothing to separate.
                _answer(batch, [(False, exc)] * len(batch))
                return
            log.warning("a batch of %d units failed (%r); running them one by one",
                        len(batch), exc)
            for job in batch:
                job.trace.rewind(job.mark)  # the rolled-back attempt's messages
                self._run([job])
            return
        _answer(batch, outcomes)

    def _commit_together(self, batch: list[_Job]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        if self._turnstile is not None:
            self._turnstile.acquire()
        try:
            with self._engine.connect() as connection:
                connection.begin()  # BEGIN IMMEDIATE on SQLite (engine.py)
                if self._batch_lock is not None:
                    execute(connection, self._batch_lock)
                savepoints = _Savepoints(connection)
                for job in batch:
                    job.mark = job.trace.mark()
                    try:
                        value = job.unit(SavepointUnitOfWork(self._engine, connection, savepoints))
                    except DomainError as refusal:
                        # Rolled back to its savepoint by its own ``with uow:``.
                        outcomes.append((False, refusal))
                    else:
                        outcomes.append((True, value))
                recorders = _store_traces(connection, batch)
                connection.commit()
        finally:
            if self._turnstile is not None:
                self._turnstile.release()
        for recorder in recorders:
            recorder.stored = len(recorder.events)
        return outcomes


def _wanted(job: _Job) -> bool:
    """Whether the job's caller still waits: a unit whose caller gave up is not run."""
    future = job.future
    if isinstance(future, Future):
        return future.set_running_or_notify_cancel()  # no cancel after this
    return not future.cancelled()  # read across threads: at worst the unit runs anyway


def _answer(batch: list[_Job], outcomes: list[Outcome]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Outcome]]] = {}
    for job, outcome in zip(batch, outcomes, strict=True):
        if isinstance(job.future, Future):
            _settle(job.future, outcome)
        else:
            by_loop.setdefault(job.future.get_loop(), []).append((job.future, outcome))
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody left to answer
            loop.call_soon_threadsafe(_settle_all, answers)


def _settle_all(answers: list[tuple[asyncio.Future[Any], Outcome]]) -> None:
    for future, outcome in answers:
        _settle(future, outcome)


def _settle(future: Future[Any] | asyncio.Future[Any], outcome: Outcome) -> None:
    if future.done():  # cancelled after its unit began: the outcome has no taker
        return
    ok, value = outcome
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


def _store_traces(connection: Connection, batch: list[_Job]) -> list[StoredTraceRecorder]:
    """Every unit's new trace events, in one insert with the batch."""
    slot = ConnectionSlot()
    slot.current = connection
    traces = SqlTraces(slot)
    recorders = []
    for job in batch:
        recorder = stored_recorder(job.trace)
        if recorder is not None:
            recorders.append(recorder)
            for event in recorder.unstored():
                traces.record(event)
    traces.flush()
    return recorders
