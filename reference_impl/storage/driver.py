"""Running the repositories' statements on the database driver.

SQLAlchemy Core builds and compiles every statement (once per process and dialect), and
the driver runs the compiled SQL: SQLAlchemy's execution layer around each call costs
about 60 us of CPU against 5 us for the driver's own execute on SQLite (measured on a
2-core VM), and an order runs about fifteen statements, so it was a fifth of the shop's
CPU per order. What that layer would add here is kept: bind and result type processing
(SQLite's booleans, JSON), DBAPI errors wrapped as SQLAlchemy's, a lost connection
invalidated. Statements the fast path cannot run as compiled (expanding IN, Python-side
column defaults, ambiguous result names) go through ``Connection.execute`` unchanged.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Executable,
    Insert,
    Select,
    bindparam,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError, NoResultFound

Processor = Callable[[Any], Any] | None


class Rows:
    """The part of SQLAlchemy's ``Result`` that the repositories use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows, self.rowcount = rows, rowcount

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        if len(self._rows) != 1:
            raise NoResultFound(f"expected one row, got {len(self._rows)}")
        return self._rows[0][0]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


@dataclass(slots=True)
class _Prepared:
    sql: str
    positions: tuple[str, ...] | None  # bind names in placeholder order (qmark); None: named
    constants: dict[str, Any]  # values the statement itself binds (``status == 'paid'``)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # names whose values are processed
    row: Callable[[Any], Any] | None  # builds a result row from its values (a namedtuple)
    types: tuple[Any, ...]  # the result columns' types, as the dialect implements them
    #: Their result processors, made at the first execution: some depend on the type code
    #: that the driver describes (PostgreSQL's numeric types).
    processors: tuple[Processor, ...] | None = None


_prepared: dict[tuple[int, str, tuple[str, ...]], _Prepared | None] = {}


def _prepare(stmt: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Prepared | None:
    """The statement compiled for ``dialect`` and these parameter names; None: fall back."""
    # Compiled as for executemany: an INSERT then has no implicit RETURNING of its new
    # key (PostgreSQL), which no repository reads.
    compiled: Any = stmt.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=list(keys), for_executemany=not isinstance(stmt, Select)
    )
    sql = str(compiled)
    if (
        "POSTCOMPILE" in sql
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or (not isinstance(stmt, Select) and compiled.effective_returning)
    ):
        return None
    constants = {
        name: bind.effective_value
        for name, bind in compiled.binds.items()
        if name not in keys and not bind.required
    }
    binds = tuple(
        (name, processor)
        for name, bind in compiled.binds.items()
        if (processor := dialect.type_descriptor(bind.type).bind_processor(dialect))
    )
    row: Callable[[Any], Any] | None = None
    types: tuple[Any, ...] = ()
    if isinstance(stmt, Select):
        columns = list(stmt.selected_columns)
        try:
            row = namedtuple("Row", [column.key for column in columns])._make  # type: ignore[misc,attr-defined]
        except ValueError:  # twice the same name, or one a tuple cannot have
            return None
        types = tuple(dialect.type_descriptor(column.type) for column in columns)
    positions = tuple(compiled.positiontup) if compiled.positional else None
    return _Prepared(sql, positions, constants, binds, row, types)


_unnest: dict[tuple[int, tuple[str, ...]], Insert | None] = {}


def _rows_as_arrays(
    stmt: Insert, rows: list[dict[str, Any]], dialect: Dialect
) -> tuple[Insert, dict[str, Any]] | None:
    """``INSERT ... SELECT unnest(%(a)s), unnest(%(b)s)...``: all ``rows`` in one statement
    of one parameter per column (PostgreSQL), or None where a column's values need
    converting first (JSON).

    psycopg sends an executemany in pipeline mode, which for the dozen rows of a request's
    trace cost three times one statement; and one text for any number of rows keeps
    psycopg's query cache and the server's prepared statements working.
    """
    keys = tuple(rows[0])
    cache_key = (id(stmt), keys)
    try:
        template = _unnest[cache_key]
    except KeyError:
        columns = [stmt.table.c[key] for key in keys]
        plain = all(
            dialect.type_descriptor(column.type).bind_processor(dialect) is None
            for column in columns
        )
        template = _unnest[cache_key] = stmt.from_select(list(keys), select(*(
            func.unnest(bindparam(key, type_=postgresql.ARRAY(column.type)))
            for key, column in zip(keys, columns, strict=True)
        ))) if plain else None
    if template is None:
        return None
    return template, {key: [row[key] for row in rows] for key in keys}


def execute(conn: Connection, stmt: Executable, params: Any = None) -> Rows | Any:
    """``conn.execute(stmt, params)`` through the driver: one dict, or a list for many.

    Row counts are reported for every statement (on the fallback too, where SQLAlchemy
    reports an INSERT's only when asked).
    """
    if (
        isinstance(params, list)
        and len(params) > 1
        and isinstance(stmt, Insert)
        and conn.dialect.name == "postgresql"
    ):
        as_arrays = _rows_as_arrays(stmt, params, conn.dialect)
        if as_arrays is not None:
            stmt, params = as_arrays
    many = isinstance(params, list)
    first = (params[0] if params else {}) if many else (params or {})
    keys = tuple(first)
    dialect = conn.dialect
    cache_key = (id(stmt), dialect.name, keys)
    try:
        prepared = _prepared[cache_key]
    except KeyError:
        prepared = _prepared[cache_key] = _prepare(stmt, dialect, keys)
    if prepared is None:
        return conn.execute(stmt, params, execution_options={"preserve_rowcount": True})
    rows = params if many else [first]
    if prepared.binds or prepared.constants:
        rows = [prepared.constants | row for row in rows]
        for row in rows:
            for name, processor in prepared.binds:
                if name in row:
                    row[name] = processor(row[name])
    if prepared.positions is not None:
        positions = prepared.positions
        values: Any = [tuple(row[name] for name in positions) for row in rows]
    else:
        values = rows
    if not conn.in_transaction():
        conn.begin()  # SQLAlchemy's autobegin, with its "begin" event (SQLite: IMMEDIATE)
    dbapi = conn.connection.driver_connection
    assert dbapi is not None  # a checked-out connection always has its driver's
    cursor = dbapi.cursor()
    try:
        if len(values) == 1:
            # Also for a list of one row: psycopg runs executemany in pipeline mode,
            # which costs several times a plain execute for a handful of rows.
            cursor.execute(prepared.sql, values[0])
        elif values:
            cursor.executemany(prepared.sql, values)
        fetched = cursor.fetchall() if prepared.row is not None else []
        rowcount = cursor.rowcount
        if prepared.processors is None and prepared.row is not None:
            prepared.processors = tuple(
                kind.result_processor(dialect, described[1])
                for kind, described in zip(prepared.types, cursor.description, strict=True)
            )
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, dbapi, cursor)
        if lost:
            # What SQLAlchemy's own execution does on a disconnect: a lost connection
            # most often means the server restarted, so every connection pooled before
            # now is stale too, and is replaced at its next checkout. Invalidating this
            # one alone would fail one more request per pooled connection.
            conn.engine.pool._invalidate(conn.connection, error)
            conn.invalidate(error)
        raise DBAPIError.instance(
            prepared.sql, values, error, dialect.loaded_dbapi.Error, dialect=dialect,
            connection_invalidated=lost,
        ) from error
    finally:
        cursor.close()
    if prepared.row is None:
        return Rows([], rowcount)
    make, processors = prepared.row, prepared.processors
    if processors is not None and any(processors):
        return Rows([
            make([p(v) if p else v for p, v in zip(processors, raw, strict=True)])
            for raw in fetched
        ], rowcount)
    return Rows([make(raw) for raw in fetched], rowcount)
