"""Engines for the two supported databases, and creating the schema at start.

SQLite (the default, a file) is tuned for several server processes sharing one file:
WAL so that readers never wait for the writer, a busy timeout so that a writer waits for
the lock instead of failing, and ``BEGIN IMMEDIATE`` so that every transaction takes the
write lock at its start. A deferred transaction that reads and then writes can fail at
once with "database is locked" when another process committed in between (WAL's
SQLITE_BUSY_SNAPSHOT, which the busy timeout does not cover); taking the lock first turns
that into an ordinary wait. PostgreSQL runs at READ COMMITTED: every concurrent write path
is a guarded update, a version check or a unique key, which that level makes atomic.
Units of work on SQLite also queue in a ``WriterTurnstile`` before they begin (why: see
turnstile.py), except read-only ones, which begin deferred (``READ_ONLY_OPTION``).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import URL, Connection, make_url

from reference_impl.storage.tables import metadata
from reference_impl.storage.turnstile import WriterTurnstile

DEFAULT_URL = "sqlite:///purchaseflow.db"

#: How long a SQLite writer waits for another process's transaction before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

#: The engine execution option carrying a SQLite engine's ``WriterTurnstile`` (user-defined
#: execution options are SQLAlchemy's documented place for per-engine data).
TURNSTILE_OPTION = "purchaseflow_writer_turnstile"

#: The connection execution option of a read-only unit of work: on SQLite its transaction
#: begins deferred, as a reader that takes no write lock (``SqlUnitOfWork(read_only=True)``).
READ_ONLY_OPTION = "purchaseflow_read_only"

#: The most connections one process opens unless told (``make_engine(connections=...)``).
#: PostgreSQL's ``max_connections`` (100 by default) is shared by every worker process of
#: every server on it: 20 lets two 2-worker shops run side by side with room to spare.
#: SQLite serializes writers, and its connections are cheap.
DEFAULT_CONNECTIONS = {"sqlite": 10, "postgresql": 20}

# pg_advisory_xact_lock key serializing schema creation across server workers (any
# fixed 64-bit number; this one spells "pflow" in ASCII).
_SCHEMA_LOCK_KEY = 0x70666C6F77


def make_engine(
    url: str | URL | None = None,
    *,
    connections: int | None = None,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    echo: bool = False,
) -> Engine:
    """An engine for ``url`` (default: the SQLite file ``purchaseflow.db``).

    ``postgresql://`` is read as ``postgresql+psycopg://`` (psycopg 3 is the driver this
    project installs). Use one engine per process; it is thread-safe and pools connections.
    It opens at most ``connections`` (default: ``DEFAULT_CONNECTIONS``) at once, or
    ``pool_size`` + ``max_overflow`` where those are given.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend not in DEFAULT_CONNECTIONS:
        raise ValueError(
            f"unsupported database {parsed.drivername!r}: use sqlite or postgresql"
        )
    total = DEFAULT_CONNECTIONS[backend] if connections is None else connections
    if backend == "sqlite":
        return _sqlite_engine(parsed, echo=echo, **_pool(total, pool_size, max_overflow))
    return create_engine(
        parsed,
        # A server also caps its request threads to what the pool holds (app.py): a
        # thread that has to wait inside SQLAlchemy's pool can be overtaken again and
        # again, for seconds under load.
        **_pool(total, pool_size, max_overflow),
        echo=echo,
        # The most recently returned connection first: the group committer keeps the
        # same one, whose statements psycopg has prepared. In the default order, the
        # pool hands it a connection a unit on a request thread just rolled back (a
        # refusal), and psycopg deallocates every prepared statement at a rollback (5.5%
        # of the order benchmark's statements ran unprepared, against 0.2%).
        pool_use_lifo=True,
    )


def _pool(total: int, pool_size: int | None, max_overflow: int | None) -> dict[str, int]:
    """Pool arguments for ``total`` connections, every one kept once opened.

    The pool opens connections as they are first needed and keeps them. With fewer kept
    than the request threads use at once, it closed a connection at nearly every return
    under load and opened another at the next checkout: on PostgreSQL a new server process
    each time, which put a tail of 0.4 to 2.6 s on reading an order at 50 clients (and
    their CPU showed nowhere, the processes having ended).
    """
    return {
        "pool_size": total if pool_size is None else pool_size,
        "max_overflow": 0 if max_overflow is None else max_overflow,
    }


def _parse(url: str | URL | None) -> URL:
    """``url`` parsed (default: ``DEFAULT_URL``), ``postgresql://`` meaning psycopg 3."""
    parsed = make_url(url if url is not None else DEFAULT_URL)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL, *, pool_size: int, max_overflow: int, echo: bool) -> Engine:
    if url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        # Each pooled connection would get its own empty database.
        raise ValueError("SQLite storage needs a file; use the in-memory unit of work instead")
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        echo=echo,
        # Pooled connections move between server threads; each is used by one at a time.
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented pysqlite recipe: the driver stops issuing its own BEGIN
        # (it would never begin before a SELECT), and ``_begin`` below issues ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL itself may wait for another process.
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _enable_wal(cursor)
            # In WAL mode NORMAL still survives a process crash (only an OS crash can
            # lose the last commits) and saves an fsync per commit.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # A reader needs no write lock: in WAL mode it reads the last commit while a
        # writer works, and it cannot meet SQLITE_BUSY_SNAPSHOT, which only an upgrade to
        # writing raises.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    turnstile = WriterTurnstile(f"{url.database}-lock", SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine.update_execution_options(**{TURNSTILE_OPTION: turnstile})
    return engine


def writer_turnstile(engine: Engine) -> WriterTurnstile | None:
    """The queue that units of work on ``engine`` join before they begin (SQLite only)."""
    turnstile: WriterTurnstile | None = engine.get_execution_options().get(TURNSTILE_OPTION)
    return turnstile


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (persistent; a no-op once done), waiting out other openers.

    The switch needs the file to itself, and SQLite reports "database is locked" at once,
    without its busy handler, when several workers open a new file together.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def create_schema(engine: Engine) -> None:
    """Create the missing tables; safe to call from several processes starting at once.

    The existence checks and the CREATEs run in one transaction holding a lock (SQLite's
    write lock through BEGIN IMMEDIATE, an advisory lock on PostgreSQL), so that a second
    worker waits and then finds the tables made by the first.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK_KEY)))
        metadata.create_all(connection, checkfirst=True)
