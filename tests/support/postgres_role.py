"""A PostgreSQL login role made for one test, to play a database that refuses connections.

PostgreSQL enforces a role's ``CONNECTION LIMIT`` at connect time ("too many connections
for role", SQLSTATE 53300), exactly as it enforces ``max_connections`` for everyone, so a
test can exhaust the database for its own server alone. Superusers ignore the limit; this
role is an ordinary one, with rights on its schema only.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, make_url, text

from reference_impl.storage import make_engine


@dataclass
class PostgresRole:
    name: str
    url: str  # the test's schema, connecting as this role
    admin: Engine  # a superuser's engine on the same schema

    @classmethod
    def create(cls, schema_url: str) -> PostgresRole:
        admin = make_engine(schema_url, pool_size=1, max_overflow=0)
        name = f"pf_role_{uuid.uuid4().hex[:12]}"
        with admin.begin() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            connection.execute(text(f'CREATE ROLE "{name}" LOGIN'))
            connection.execute(text(f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{name}"'))
        url = make_url(schema_url).set(username=name, password=None)
        return cls(name, url.render_as_string(hide_password=False), admin)

    def limit_connections(self, limit: int) -> None:
        """At most ``limit`` connections from now on (-1: no limit); open ones stay."""
        self._run(f'ALTER ROLE "{self.name}" CONNECTION LIMIT {int(limit)}')

    def close_connections(self) -> int:
        """End every session of this role, as a database restart would; how many."""
        with self.admin.begin() as connection:
            return len(connection.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :name"
            ), {"name": self.name}).all())

    def connections(self) -> int:
        with self.admin.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = :name"
            ), {"name": self.name}).scalar_one())

    def drop(self) -> None:
        self.close_connections()
        # DROP OWNED takes the tables the role created (in this test's schema) with it.
        self._run(f'DROP OWNED BY "{self.name}"')
        self._run(f'DROP ROLE "{self.name}"')
        self.admin.dispose()

    def _run(self, statement: str) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(statement))
