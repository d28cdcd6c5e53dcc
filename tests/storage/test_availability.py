"""Which storage errors mean "the database cannot serve now, retry" (answered 503), and
which are defects (500): each case is the real error, raised by a real database."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, exc, literal, select, text

from conformance.reference_shop import free_port
from reference_impl.storage import make_engine
from reference_impl.storage.availability import is_unavailable, one_line
from reference_impl.storage.driver import execute
from reference_impl.storage.turnstile import WriterLockTimeout
from tests.support.postgres_role import PostgresRole


@pytest.fixture
def role_engine(postgres_role: PostgresRole) -> Iterator[Engine]:
    """An engine connecting as the test's own role, whose sessions it may end."""
    engine = make_engine(postgres_role.url)
    yield engine
    engine.dispose()


def raised(action: object) -> BaseException:
    assert callable(action)
    with pytest.raises(Exception) as caught:
        action()
    return caught.value


def test_a_refused_postgres_connection_is_unavailable() -> None:
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    error = raised(engine.connect)
    assert isinstance(error, exc.OperationalError)
    assert is_unavailable(error)
    assert "refused" in one_line(error) and "\n" not in one_line(error)


@pytest.mark.postgres
def test_a_role_over_its_connection_limit_is_unavailable(
    postgres_role: PostgresRole, role_engine: Engine
) -> None:
    postgres_role.limit_connections(0)
    error = raised(role_engine.connect)
    assert "too many connections" in str(error)
    assert is_unavailable(error)


@pytest.mark.postgres
def test_a_connection_the_server_closed_is_unavailable(
    postgres_role: PostgresRole, role_engine: Engine
) -> None:
    with role_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert postgres_role.close_connections() == 1
        error = raised(lambda: connection.execute(text("SELECT 1")))
    assert isinstance(error, exc.DBAPIError) and error.connection_invalidated
    assert is_unavailable(error)


@pytest.mark.postgres
def test_a_deadlock_victim_is_unavailable(role_engine: Engine) -> None:
    engine = role_engine
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE pair (id int PRIMARY KEY)"))
        connection.execute(text("INSERT INTO pair VALUES (1), (2)"))
    both_hold_one = threading.Barrier(2)
    errors: list[BaseException] = []

    def lock(first: int, second: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(text(f"SELECT 1 FROM pair WHERE id = {first} FOR UPDATE"))
                both_hold_one.wait(timeout=10)
                connection.execute(text(f"SELECT 1 FROM pair WHERE id = {second} FOR UPDATE"))
        except exc.DBAPIError as error:
            errors.append(error)

    threads = [threading.Thread(target=lock, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    (error,) = errors  # PostgreSQL failed one of the two
    assert "deadlock detected" in str(error)
    assert is_unavailable(error)


@pytest.mark.postgres
def test_a_missing_table_on_postgres_is_a_defect(role_engine: Engine) -> None:
    with role_engine.connect() as connection:
        error = raised(lambda: connection.execute(text("SELECT * FROM no_such_table")))
    assert not is_unavailable(error)


def test_a_sqlite_lock_held_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x int)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
        with engine.connect() as connection:
            error = raised(lambda: connection.execute(text("INSERT INTO t VALUES (1)")))
        assert "database is locked" in str(error)
        assert is_unavailable(error)
        engine.dispose()
    finally:
        holder.rollback()
        holder.close()


def test_a_missing_table_on_sqlite_is_a_defect(tmp_path: Path) -> None:
    # sqlite3 reports it as an OperationalError too, like a locked database.
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with engine.connect() as connection:
        error = raised(lambda: connection.execute(text("SELECT * FROM no_such_table")))
    assert isinstance(error, exc.OperationalError)
    assert not is_unavailable(error)
    engine.dispose()


def test_no_pooled_connection_in_time_is_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=1,
                           max_overflow=0, pool_timeout=0.05)
    with engine.connect():
        error = raised(engine.connect)
    assert isinstance(error, exc.TimeoutError)
    assert is_unavailable(error)
    engine.dispose()


def test_only_the_write_queue_timeout_among_timeouts() -> None:
    assert is_unavailable(WriterLockTimeout("waited too long for the SQLite write lock"))
    # Another timeout (a gateway's, an await's) is not the database's.
    assert not is_unavailable(TimeoutError("something else"))
    assert not is_unavailable(ValueError("bad"))


@pytest.mark.postgres
def test_after_a_lost_connection_the_pool_replaces_every_stale_one(
    postgres_role: PostgresRole,
) -> None:
    """The repositories run statements on the driver (storage/driver.py); a disconnect
    seen there fails its own request only: every connection pooled before it is replaced,
    as SQLAlchemy's own execution does, not handed out to fail another request."""
    engine = make_engine(postgres_role.url, connections=3)
    select_one = select(literal(1).label("one"))
    held = [engine.connect() for _ in range(3)]
    for connection in held:
        connection.execute(text("SELECT 1"))
        connection.close()  # back to the pool, open
    assert postgres_role.close_connections() == 3  # the server restarts, say

    outcomes = []
    for _ in range(3):
        with engine.connect() as connection:
            try:
                outcomes.append(execute(connection, select_one).all()[0].one)
            except exc.DBAPIError as error:
                assert error.connection_invalidated and is_unavailable(error)
                outcomes.append("unavailable")
    assert outcomes == ["unavailable", 1, 1]
    engine.dispose()
