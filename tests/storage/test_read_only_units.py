"""Read-only units of work (``SqlUnitOfWork(read_only=True)``): on SQLite they read the last
commit beside the writer instead of queueing for the write lock (engine.py, turnstile.py);
on PostgreSQL they read without a transaction (unit_of_work.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine

from reference_impl.domain.catalog import Account
from reference_impl.storage import SqlUnitOfWork


def add_account(engine: Engine, user_id: str) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.accounts.upsert([Account(user_id, f"{user_id}@example.com")])
        uow.commit()


def test_a_reader_reads_the_last_commit_while_a_writer_holds_the_lock(
    sqlite_engine: Engine,
) -> None:
    add_account(sqlite_engine, "alice")
    with SqlUnitOfWork(sqlite_engine) as writer:  # the turnstile and BEGIN IMMEDIATE
        writer.accounts.upsert([Account("bob", "bob@example.com")])
        # Same thread: a unit that queued for the writer would never get in.
        with SqlUnitOfWork(sqlite_engine, read_only=True) as reader:
            assert reader.accounts.get("alice") is not None
            assert reader.accounts.get("bob") is None  # not committed yet
        writer.commit()
    with SqlUnitOfWork(sqlite_engine, read_only=True) as reader:
        assert reader.accounts.get("bob") is not None


def test_a_reader_does_not_wait_for_another_processs_write_lock(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Another process's writer holds the file's lock (its own connection here): a reader
    answers, and a writer queues behind it until it lets go."""
    add_account(sqlite_engine, "alice")
    other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    written = threading.Event()

    def write() -> None:
        add_account(sqlite_engine, "bob")
        written.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with SqlUnitOfWork(sqlite_engine, read_only=True) as reader:
            assert reader.accounts.get("alice") is not None
        assert not written.wait(0.3)  # the writer waits for the lock
    finally:
        other.execute("COMMIT")
        other.close()
        writer.join(10)
    assert written.is_set()


@pytest.mark.postgres
def test_a_reader_on_postgresql_reads_what_was_committed(postgres_engine: Engine) -> None:
    add_account(postgres_engine, "alice")
    with SqlUnitOfWork(postgres_engine, read_only=True) as reader:
        account = reader.accounts.get("alice")
    assert account is not None and account.email == "alice@example.com"


@pytest.mark.postgres
def test_a_read_only_unit_on_postgresql_reads_outside_a_transaction(
    postgres_engine: Engine,
) -> None:
    """At READ COMMITTED each statement reads its own snapshot anyway: a transaction would
    only add a BEGIN and a ROLLBACK round trip."""
    add_account(postgres_engine, "alice")
    with SqlUnitOfWork(postgres_engine, read_only=True) as reader:
        assert reader.accounts.get("alice") is not None
        assert driver_connection(reader).info.transaction_status == TransactionStatus.IDLE
    with SqlUnitOfWork(postgres_engine) as writer:  # for contrast: a unit that may write
        assert writer.accounts.get("alice") is not None
        assert driver_connection(writer).info.transaction_status == TransactionStatus.INTRANS


@pytest.mark.postgres
def test_read_only_units_keep_the_connections_prepared_statements(
    postgres_engine: Engine,
) -> None:
    """psycopg prepares a statement at its fifth execution on a connection, and forgets
    them all at a ROLLBACK: readers that rolled back never ran prepared, and left the
    connection unprepared for the group committer that the pool handed it to next."""
    add_account(postgres_engine, "alice")
    for _ in range(6):  # one thread: the pool (last in, first out) hands the same connection
        with SqlUnitOfWork(postgres_engine, read_only=True) as reader:
            assert reader.accounts.get("alice") is not None
    with SqlUnitOfWork(postgres_engine, read_only=True) as reader:
        prepared = reader._slot.conn.exec_driver_sql(
            "SELECT count(*) FROM pg_prepared_statements").scalar()
    assert prepared and prepared >= 1


def driver_connection(uow: SqlUnitOfWork) -> psycopg.Connection[Any]:
    connection: psycopg.Connection[Any] = uow._slot.conn.connection.driver_connection
    return connection
