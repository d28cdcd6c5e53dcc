"""Fixtures shared by every test package.

PostgreSQL tests need a server: set ``PURCHASEFLOW_TEST_POSTGRES_URL`` (for example
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); without it they are skipped, saying
so. Each schema handed out is named after a random session id, so parallel sessions
(pytest-xdist workers, CI jobs sharing one server) never meet. The URL selects its schema
through libpq's ``options=-csearch_path=...``, so any engine or server process given the
URL lands in it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import make_url
from sqlalchemy.schema import CreateSchema, DropSchema

from reference_impl.storage import make_engine
from tests.support.postgres_role import PostgresRole

POSTGRES_URL_ENV = "PURCHASEFLOW_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_schemas() -> Iterator[Callable[[], str]]:
    """A factory of URLs, each on a new empty schema; all are dropped when the session ends."""
    server_url = os.environ.get(POSTGRES_URL_ENV)
    if not server_url:
        if os.environ.get("PURCHASEFLOW_REQUIRE_POSTGRES"):
            # CI (.ci/run) requires PostgreSQL: a missing URL fails, it never skips.
            pytest.fail(f"{POSTGRES_URL_ENV} is not set, and PURCHASEFLOW_REQUIRE_POSTGRES is")
        pytest.skip(f"{POSTGRES_URL_ENV} is not set")
    admin = make_engine(server_url, pool_size=1, max_overflow=0)
    session_id = uuid.uuid4().hex[:10]
    created: list[str] = []

    def new_schema() -> str:
        name = f"pf_test_{session_id}_{len(created)}"
        with admin.begin() as connection:
            connection.execute(CreateSchema(name))
        created.append(name)
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    yield new_schema
    with admin.begin() as connection:
        for name in created:
            connection.execute(DropSchema(name, cascade=True, if_exists=True))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_schemas: Callable[[], str]) -> str:
    """A PostgreSQL URL whose connections see only an empty schema of this test's own."""
    return postgres_schemas()


@pytest.fixture
def postgres_role(postgres_url: str) -> Iterator[PostgresRole]:
    """A login role of this test's own, on an empty schema: its connection limit can be
    lowered (a real refusal) without touching the server's other users."""
    role = PostgresRole.create(postgres_url)
    yield role
    role.drop()
