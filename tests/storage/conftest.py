"""Storage fixtures: the same tests run on every implementation of the storage ports.

``make_uow`` is parametrized over the in-memory unit of work, SQLite (a file per test) and
PostgreSQL (one schema per session, emptied before each test). Each call returns a new
unit of work on the same store, so that a test can play two concurrent requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from reference_impl.service.ports import UnitOfWork
from reference_impl.storage import SqlUnitOfWork, create_schema, make_engine

UowFactory = Callable[[], UnitOfWork]

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_session_engine(postgres_schemas: Callable[[], str]) -> Iterator[Engine]:
    # One schema for the session: creating the tables costs far more than emptying them.
    engine = make_engine(postgres_schemas())
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_session_engine: Engine) -> Engine:
    with SqlUnitOfWork(postgres_session_engine) as uow:
        uow.reset()
        uow.commit()
    return postgres_session_engine


@pytest.fixture(params=SQL_BACKENDS)
def sql_engine(request: pytest.FixtureRequest) -> Engine:
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


@pytest.fixture(params=["memory", *SQL_BACKENDS])
def make_uow(request: pytest.FixtureRequest) -> UowFactory:
    if request.param == "memory":
        store = MemoryStore()
        return lambda: InMemoryUnitOfWork(store)
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def uow(make_uow: UowFactory) -> UnitOfWork:
    return make_uow()
