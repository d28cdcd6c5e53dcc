"""A server process opens at most ``db_connections`` database connections, and runs no
more request threads than the pool can serve at once (reference_impl/http/app.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from anyio import to_thread

from reference_impl.config import Settings
from reference_impl.http.app import CONNECTIONS_BESIDE_REQUESTS, create_app
from reference_impl.storage import make_engine
from reference_impl.storage.engine import DEFAULT_CONNECTIONS


def threads_while_serving(settings: Settings) -> int:
    app = create_app(settings, run_workers=False)

    async def serve() -> int:
        async with app.router.lifespan_context(app):
            return to_thread.current_default_thread_limiter().total_tokens

    return asyncio.run(serve())


@pytest.mark.parametrize(("configured", "expected"), [
    (None, DEFAULT_CONNECTIONS["sqlite"] - CONNECTIONS_BESIDE_REQUESTS),
    (3, 1),
    (12, 12 - CONNECTIONS_BESIDE_REQUESTS),
])
def test_request_threads_leave_the_committer_and_the_worker_a_connection(
    tmp_path: Path, configured: int | None, expected: int
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'shop.db'}",
                        db_connections=configured)
    assert threads_while_serving(settings) == expected


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/x.db", "postgresql://u@127.0.0.1/db"])
@pytest.mark.parametrize("connections", [None, 3, 25])
def test_the_pool_holds_at_most_the_connections_asked_for(
    tmp_path: Path, url: str, connections: int | None
) -> None:
    engine = make_engine(url.format(tmp=tmp_path), connections=connections)
    pool = engine.pool
    expected = connections or DEFAULT_CONNECTIONS[engine.dialect.name]
    assert pool.size() + pool._max_overflow == expected  # type: ignore[attr-defined]
    engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_the_pool_keeps_every_connection_it_opens(
    tmp_path: Path, request: pytest.FixtureRequest, backend: str
) -> None:
    """Connections are opened as they are first needed and kept: a pool that kept fewer
    than the request threads use closed one at nearly every return under load and opened
    another at the next checkout (a new server process each time, on PostgreSQL)."""
    url = (f"sqlite:///{tmp_path / 'shop.db'}" if backend == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = make_engine(url, connections=14)
    try:
        assert engine.pool.checkedin() == 0  # nothing opened before it is needed
        opened = [engine.connect() for _ in range(14)]  # as 14 busy threads would
        for connection in opened:
            connection.close()
        assert engine.pool.checkedin() == 14
        with engine.connect():
            assert engine.pool.checkedin() == 13  # one of the kept ones, not a new one
    finally:
        engine.dispose()
