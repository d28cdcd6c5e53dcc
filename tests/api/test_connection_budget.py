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
