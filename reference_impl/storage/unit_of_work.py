"""``SqlUnitOfWork``: the storage ports on SQLite or PostgreSQL (cosmicpython's unit of work).

Each ``with uow:`` block checks a connection out of the engine's pool and runs one
transaction on it; leaving the block rolls back whatever was not committed and returns the
connection. Reads build fresh domain objects, so a handler that fails half-way leaves
nothing behind, as with the in-memory unit of work.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine, delete

from reference_impl.service.ports import (
    AccountRepository,
    CartRepository,
    CatalogRepository,
    OrderRepository,
    Outbox,
    PaymentEventLog,
    StockRepository,
    TraceLog,
    UnitOfWork,
)
from reference_impl.service.tracing import StoredTraceRecorder
from reference_impl.storage._sql import ConnectionSlot
from reference_impl.storage.carts import SqlCarts
from reference_impl.storage.catalog import SqlAccounts, SqlCatalog
from reference_impl.storage.engine import READ_ONLY_OPTION, writer_turnstile
from reference_impl.storage.orders import SqlOrders
from reference_impl.storage.outbox import SqlOutbox
from reference_impl.storage.payment_events import SqlPaymentEvents
from reference_impl.storage.stock import SqlStock
from reference_impl.storage.tables import metadata
from reference_impl.storage.traces import SqlTraces

#: How a read-only unit's connection reads. SQLite: in a deferred transaction (engine.py),
#: one snapshot for all its statements. PostgreSQL: without a transaction. At READ
#: COMMITTED each statement reads its own snapshot inside a transaction too, so a
#: transaction added nothing but its BEGIN and its ROLLBACK, two round trips of the four
#: of an order's page, and psycopg forgets the connection's prepared statements at every
#: ROLLBACK (and deallocates them on the server, a fifth), so the next units on it, the
#: group committer's batches included, ran unprepared.
_READ_ONLY: dict[str, dict[str, object]] = {
    "sqlite": {READ_ONLY_OPTION: True},
    "postgresql": {"isolation_level": "AUTOCOMMIT"},
}


class SqlUnitOfWork:
    """One per request or thread (it holds the open connection); share the engine instead.

    ``read_only``: for units that only read (an order's or a cart's page). On SQLite such a
    unit neither queues in the writer turnstile nor takes the write lock: it reads the last
    commit while the group committer writes, where it would wait for the batches of every
    server process. It must not write (SQLite would then take the lock mid-transaction,
    and may refuse at once where the turnstile would have queued it).
    """

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self._read_only = read_only
        self._turnstile = None if read_only else writer_turnstile(engine)
        self._slot = slot = ConnectionSlot()
        # The concrete repositories that keep per-unit state, for _forget and commit.
        self._carts, self._orders, self._traces = SqlCarts(slot), SqlOrders(slot), SqlTraces(slot)
        # Typed as the ports: the Protocol's attributes are mutable, hence invariant.
        self.catalog: CatalogRepository = SqlCatalog(slot)
        self.accounts: AccountRepository = SqlAccounts(slot)
        self.stock: StockRepository = SqlStock(slot)
        self.carts: CartRepository = self._carts
        self.orders: OrderRepository = self._orders
        self.payment_events: PaymentEventLog = SqlPaymentEvents(slot)
        self.outbox: Outbox = SqlOutbox(slot)
        self.traces: TraceLog = self._traces
        self._journal: StoredTraceRecorder | None = None

    def journal(self, recorder: StoredTraceRecorder | None) -> None:
        """Store ``recorder``'s new events with each commit (``service.units``)."""
        self._journal = recorder

    def __enter__(self) -> SqlUnitOfWork:
        if self._slot.current is not None:
            raise RuntimeError("this unit of work is already open")
        if self._turnstile is not None:
            self._turnstile.acquire()
        try:
            connection = self.engine.connect()
            if self._read_only:
                connection.execution_options(**_READ_ONLY[connection.dialect.name])
            try:
                connection.begin()  # SQLite: BEGIN IMMEDIATE, or BEGIN to read (engine.py)
            except BaseException:
                connection.close()
                raise
        except BaseException:
            if self._turnstile is not None:
                self._turnstile.release()
            raise
        self._slot.current = connection
        self._forget()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._slot.current = self._slot.conn, None
        self._forget()
        try:
            if connection.in_transaction():
                connection.rollback()
        finally:
            try:
                connection.close()
            finally:
                if self._turnstile is not None:
                    self._turnstile.release()

    def commit(self) -> None:
        journal = self._journal
        upto = 0
        if journal is not None:
            upto = len(journal.events)
            for event in journal.unstored():
                self._traces.record(event)
        self._traces.flush()
        self._slot.conn.commit()
        if journal is not None:
            journal.stored = upto

    def rollback(self) -> None:
        self._slot.conn.rollback()
        # What the repositories remember of the database may include undone writes.
        self._forget()

    def reset(self) -> None:
        connection = self._slot.conn
        # Children first, so that foreign keys hold at every statement.
        for table in reversed(metadata.sorted_tables):
            connection.execute(delete(table))
        self._forget()

    def _forget(self) -> None:
        self._slot.ahead.clear()
        self._traces.discard()
        self._orders.forget()
        self._carts.forget()


def _conforms(engine: Engine) -> UnitOfWork:
    return SqlUnitOfWork(engine)  # mypy checks here that SqlUnitOfWork is a UnitOfWork
