"""Plumbing shared by the repositories: the unit's live connection and upsert inserts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

# Both dialects' inserts offer the same ON CONFLICT API (PostgreSQL's and SQLite's
# upsert syntax are the same), so the repositories are written once for both.
DialectInsert = postgresql.Insert | sqlite.Insert


class ConnectionSlot:
    """The connection of the unit of work's current ``with`` block, shared by its repositories."""

    def __init__(self) -> None:
        self.current: Connection | None = None

    @property
    def conn(self) -> Connection:
        self.check_open()
        assert self.current is not None
        return self.current

    def check_open(self) -> None:
        if self.current is None:
            raise RuntimeError("use the repositories inside `with uow:`")


def insert(conn: Connection, table: Table) -> DialectInsert:
    """An INSERT that accepts ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {conn.dialect.name}")


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite ``rows`` by primary key in one executemany; the last of twins wins."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    # One statement may not touch a row twice on PostgreSQL, so twins are merged first.
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    stmt = insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys,
        set_={name: stmt.excluded[name] for name in unique[0] if name not in keys},
    )
    conn.execute(stmt, unique)
