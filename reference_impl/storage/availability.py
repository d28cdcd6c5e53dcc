"""Telling a database that cannot serve now from a bug: the first is answered 503, retry.

PostgreSQL refuses a connection past ``max_connections`` (or a role's limit), drops them
when it restarts, and breaks deadlocks by failing a transaction; SQLite's write lock can be
held longer than a writer waits. None of these is the request's fault or a defect. The
request's transaction did not commit (unless the connection was lost during the COMMIT
itself, when nobody can tell), and sending it again is safe: an order retried under its
Idempotency-Key is created once, a webhook event is applied once, cart edits set values.
Anything else that goes wrong in storage is a defect and stays a 500.
"""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc

from reference_impl.storage.turnstile import WriterLockTimeout

#: SQLSTATE classes of PostgreSQL errors that say "not now" rather than "never": 08
#: connection exception, 40 transaction rollback (deadlock, serialization failure), 53
#: insufficient resources (too many connections, out of memory, disk full), 57 operator
#: intervention (shutting down, starting up, query cancelled).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57"})

#: What SQLite says when its lock stayed taken past the busy timeout.
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot serve now but may on a retry."""
    if isinstance(error, exc.TimeoutError):
        return True  # no pooled connection came free in time
    if isinstance(error, WriterLockTimeout):
        return True  # the SQLite writer queue did not reach us in time
    if isinstance(error, exc.DBAPIError):
        if error.connection_invalidated:
            return True  # the server closed the connection under us
        return _transient_driver_error(error.orig)
    return False


def one_line(error: BaseException) -> str:
    """The first line of ``error``: what the database said, for a log line per outage."""
    return (str(error).splitlines() or [type(error).__name__])[0]


def _transient_driver_error(orig: BaseException | None) -> bool:
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).startswith(_SQLITE_BUSY)
    if not isinstance(orig, psycopg.Error):
        return False
    if orig.sqlstate is None:
        # No SQLSTATE: it never reached a server (refused, timed out) or lost it.
        return isinstance(orig, psycopg.OperationalError)
    return orig.sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES
