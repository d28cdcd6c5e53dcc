"""Plumbing shared by the repositories: the unit's live connection, cached statements, upserts.

Statements are built once per process, with bind parameters, on first use
(``functools.cache``): building a Core statement and its cache key costs about five times
as much as executing a prepared one on SQLite, and order creation runs a dozen of them.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from reference_impl.storage.driver import execute

# Both dialects' inserts offer the same ON CONFLICT API (PostgreSQL's and SQLite's
# upsert syntax are the same), so the repositories are written once for both.
DialectInsert = postgresql.Insert | sqlite.Insert


#: Keys of ``ConnectionSlot.ahead``: the table's name, then the row's primary key.
VARIANT, STOCK, ACCOUNT = "variants", "stock", "accounts"
#: What ``ahead.get`` gives for a row nobody read ahead (None is a row known to be absent).
NOT_READ = object()


class ConnectionSlot:
    """The connection of the unit of work's current ``with`` block, shared by its repositories.

    ``ahead`` holds rows that one repository read for another in the same statement (a
    cart's read brings its lines' variants and stock levels, and its owner's account: the
    next reads of checkout and of adding to a cart), keyed ``(table, *primary key)``, None
    for a row known to be absent. It lives as long as the unit's ``with`` block, and a
    repository that writes a table drops what it holds of that table.
    """

    def __init__(self) -> None:
        self.current: Connection | None = None
        self.ahead: dict[tuple[str, ...], Any] = {}

    @property
    def conn(self) -> Connection:
        self.check_open()
        assert self.current is not None
        return self.current

    def drop_ahead(self, table: str) -> None:
        """Forget the rows of ``table`` read ahead: the unit is writing it."""
        if self.ahead:
            for key in [k for k in self.ahead if k[0] == table]:
                del self.ahead[key]

    def check_open(self) -> None:
        if self.current is None:
            raise RuntimeError("use the repositories inside `with uow:`")


def dialect_insert(dialect: str, table: Table) -> DialectInsert:
    """An INSERT that accepts ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {dialect}")


@cache
def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> DialectInsert:
    keys = [c.name for c in table.primary_key.columns]
    stmt = dialect_insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in columns if name not in keys},
    )


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite ``rows`` by primary key in one executemany; the last of twins wins."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    # One statement may not touch a row twice on PostgreSQL, so twins are merged first.
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    execute(conn, _upsert_statement(conn.dialect.name, table, tuple(unique[0])), unique)
