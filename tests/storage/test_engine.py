"""Engine set-up: SQLite's pragmas and locking, URLs, and schema creation by racing workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError

from reference_impl.storage import SqlUnitOfWork, create_schema, make_engine
from reference_impl.storage.tables import metadata
from tests.storage.test_concurrency import all_at_once


def test_sqlite_pragmas(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30_000


def test_a_sqlite_unit_takes_the_write_lock_when_it_begins(sqlite_engine: Engine) -> None:
    """BEGIN IMMEDIATE: even a unit that has only read holds the write lock."""
    with SqlUnitOfWork(sqlite_engine) as uow:
        uow.stock.get("v1", "L1")
        # A connection of another engine (another process, as far as SQLite can tell),
        # told not to wait, cannot begin.
        other = make_engine(sqlite_engine.url)
        try:
            with other.connect() as connection:
                # On the driver's connection: through SQLAlchemy it would begin first.
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute("PRAGMA busy_timeout = 0")
                with pytest.raises(OperationalError, match="locked"):
                    connection.begin()
        finally:
            other.dispose()


def test_urls() -> None:
    assert make_engine().url.database == "purchaseflow.db"
    assert make_engine("postgresql://u@h/db").dialect.driver == "psycopg"
    with pytest.raises(ValueError, match="needs a file"):
        make_engine("sqlite://")
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://u@h/db")


def _create_in_parallel(url: str, workers: int = 4) -> None:
    engines = [make_engine(url) for _ in range(workers)]
    try:
        all_at_once(workers, lambda i: create_schema(engines[i]))
        assert set(inspect(engines[0]).get_table_names()) == set(metadata.tables)
        create_schema(engines[0])  # and again at the next start
    finally:
        for engine in engines:
            engine.dispose()


def test_workers_starting_together_create_the_schema_once_on_sqlite(tmp_path: Path) -> None:
    _create_in_parallel(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.postgres
def test_workers_starting_together_create_the_schema_once_on_postgres(
    postgres_schemas: Callable[[], str],
) -> None:
    _create_in_parallel(postgres_schemas())
