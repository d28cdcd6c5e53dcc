"""The reference implementation's HTTP entrypoint (FastAPI): ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from anyio import to_thread
from fastapi import FastAPI

from reference_impl.config import Settings
from reference_impl.http import (
    gc_tuning,
    problems,
    routes_admin,
    routes_carts,
    routes_catalog,
    routes_orders,
    routes_payments,
)
from reference_impl.http.runtime import Runtime
from reference_impl.http.schemas import Health
from reference_impl.outbound.gateway_client import GatewayClient
from reference_impl.outbound.mailer import SmtpMailer
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.units import UnitRunner

API_VERSION = "1.0.0"
DESCRIPTION = """The canonical purchase-flow contract of purchaseflow (DESIGN.md section 3).

Money is an integer in minor units plus a currency. Errors are `application/problem+json`
(RFC 9457) with a stable `code`. Buyers authenticate with `Authorization: Bearer <JWT>`
(HS256); the harness administers the shop with `X-Admin-Token`.
"""


#: Connections a server process keeps for work outside its request threads: the group
#: committer's batches and the background worker's sweeps (runtime.py).
CONNECTIONS_BESIDE_REQUESTS = 2


@dataclass(frozen=True)
class SqlStorage:
    """Units of work on the configured database, the runner of the async endpoints, and
    how many request threads the connection pool can serve without making one wait."""

    uow_factory: Callable[[], UnitOfWork]
    read_factory: Callable[[], UnitOfWork]  # units that only read (``read_only``)
    units: UnitRunner
    request_threads: int


def sql_storage(settings: Settings) -> SqlStorage:
    from reference_impl.storage import SqlUnitOfWork, create_schema, make_engine
    from reference_impl.storage.engine import DEFAULT_CONNECTIONS
    from reference_impl.storage.group_commit import GroupCommitter

    engine = make_engine(settings.database_url, connections=settings.db_connections)
    connections = settings.db_connections or DEFAULT_CONNECTIONS[engine.dialect.name]
    create_schema(engine)

    def factory() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    def read_factory() -> UnitOfWork:
        return SqlUnitOfWork(engine, read_only=True)

    # One writer per process, batching the units that wait at the same moment: on SQLite
    # it saves a lock turn and a commit per unit, on PostgreSQL a commit and the psycopg
    # round trips of its BEGIN and trace insert (group_commit.py).
    return SqlStorage(
        factory, read_factory, GroupCommitter(engine, priority=settings.writer_priority),
        max(1, connections - CONNECTIONS_BESIDE_REQUESTS),
    )


def create_app(
    settings: Settings | None = None,
    *,
    uow_factory: Callable[[], UnitOfWork] | None = None,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    run_workers: bool = True,
) -> FastAPI:
    """Build the app. Tests may pass in-memory storage or an httpx transport (respx)."""
    settings = settings or Settings()
    units: UnitRunner | None = None  # a given uow_factory gets a thread per unit
    request_threads: int | None = None  # and the server's default thread pool
    read_factory: Callable[[], UnitOfWork] | None = None  # and reads on it too
    if uow_factory is None:
        storage = sql_storage(settings)
        uow_factory, read_factory, units, request_threads = (
            storage.uow_factory, storage.read_factory, storage.units, storage.request_threads
        )
    runtime = Runtime(
        settings=settings,
        uow_factory=uow_factory,
        read_uow_factory=read_factory,
        units=units,
        gateway=GatewayClient(
            settings.gateway_url,
            timeout=settings.gateway_timeout,
            retries=settings.gateway_retries,
            public_url=settings.public_url,
            transport=gateway_transport,
        ),
        mailer=SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if request_threads is not None:
            # Sync endpoints and run_in_threadpool share this limiter (anyio's, 40 by
            # default); past the pool's size, extra threads would only queue inside it,
            # unfairly, or fail when the database refuses more connections.
            to_thread.current_default_thread_limiter().total_tokens = request_threads
        if run_workers:
            runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="purchaseflow shop",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.runtime = runtime
    problems.install(app)
    for module in (routes_catalog, routes_carts, routes_orders, routes_payments, routes_admin):
        app.include_router(module.router, responses=problems.STORAGE_RESPONSES)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz() -> Health:
        return Health(profile=settings.profile_name)

    return app


def app_from_env() -> FastAPI:
    """The factory uvicorn workers call: settings come from ``PURCHASEFLOW_*`` variables.

    The process then serves for its whole life, so its garbage collector is set for that
    once the app is built (``gc_tuning``).
    """
    app = create_app(Settings())
    gc_tuning.tune_for_serving()
    return app
