"""``storage.driver.execute``: the repositories' statements run through the driver, with what
SQLAlchemy's own execution would have given them (types, errors, transactions)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from sqlalchemy import Engine, Insert, Select, Update, bindparam, exc, func, select, update

from reference_impl.storage import tables as t
from reference_impl.storage.driver import execute


@cache
def _insert_account() -> Insert:
    return t.accounts.insert()


@cache
def _account(expanding: bool) -> Select[Any]:
    a = t.accounts.c
    where = a.user_id.in_(bindparam("ids", expanding=True)) if expanding else (
        a.user_id == bindparam("id"))
    return select(a.user_id, a.active).where(where).order_by(a.user_id)


@cache
def _deactivate() -> Update:
    # A value the statement binds itself, None included.
    return update(t.accounts).where(t.accounts.c.user_id == bindparam("id")).values(
        active=False, email="gone@example.com")


@cache
def _count() -> Select[Any]:
    return select(func.count()).select_from(t.accounts)


def _row(user: str, active: bool = True) -> dict[str, Any]:
    return {"user_id": user, "email": f"{user}@example.com", "active": active,
            "shop_id": "default"}


def test_rows_come_back_typed_and_named(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), [_row("a"), _row("b", active=False)])
        a = execute(conn, _account(False), {"id": "a"}).first()
        b = execute(conn, _account(False), {"id": "b"}).all()[0]
        # SQLite stores booleans as 0/1: the column's type turns them back into bools.
        assert (a.user_id, a.active, b.active) == ("a", True, False)
        assert type(a.active) is bool and type(b.active) is bool
        assert execute(conn, _count()).scalar_one() == 2
        assert execute(conn, _account(False), {"id": "nobody"}).first() is None


def test_constants_of_the_statement_are_bound(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), _row("a"))
        assert execute(conn, _deactivate(), {"id": "a"}).rowcount == 1
        assert execute(conn, _account(False), {"id": "a"}).first().active is False


def test_an_expanding_in_goes_through_sqlalchemy(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), [_row("a"), _row("b"), _row("c")])
        rows = execute(conn, _account(True), {"ids": ["a", "c"]}).all()
        assert [r.user_id for r in rows] == ["a", "c"]


def test_a_driver_error_is_raised_as_sqlalchemys(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), _row("a"))
        with pytest.raises(exc.IntegrityError):
            execute(conn, _insert_account(), _row("a"))


def test_a_write_after_a_commit_opens_a_new_transaction(sql_engine: Engine) -> None:
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), _row("kept"))
        conn.commit()
        execute(conn, _insert_account(), _row("undone"))  # autobegins, as conn.execute does
        conn.rollback()
    with sql_engine.connect() as conn:
        rows = execute(conn, _account(True), {"ids": ["kept", "undone"]}).all()
        assert [r.user_id for r in rows] == ["kept"]


@pytest.mark.parametrize("rows", [1, 2, 100])
def test_many_rows_are_all_inserted(sql_engine: Engine, rows: int) -> None:
    """One row, or many: on PostgreSQL one INSERT ... SELECT unnest(...) for all."""
    users = [f"u{i:03}" for i in range(rows)]
    with sql_engine.connect() as conn:
        execute(conn, _insert_account(), [_row(u, active=i % 2 == 0) for i, u in
                                          enumerate(users)])
        stored = execute(conn, _account(True), {"ids": users}).all()
    assert [(r.user_id, r.active) for r in stored] == [
        (u, i % 2 == 0) for i, u in enumerate(users)]


def test_many_rows_with_a_json_column_are_all_inserted(sql_engine: Engine) -> None:
    """JSON values need converting one by one: these rows go through executemany."""
    payloads = [{"order_id": f"o{i}", "lines": [i, {"nested": True}]} for i in range(3)]
    with sql_engine.connect() as conn:
        execute(conn, _insert_outbox(), [
            {"kind": "confirmation", "order_id": f"o{i}", "payload": payload,
             "created_at": 1.0, "attempts": 0}
            for i, payload in enumerate(payloads)])
        stored = execute(conn, _outbox()).all()
    assert [row.payload for row in stored] == payloads


@cache
def _insert_outbox() -> Insert:
    return t.outbox.insert()


@cache
def _outbox() -> Select[Any]:
    return select(t.outbox.c.payload).order_by(t.outbox.c.message_id)
