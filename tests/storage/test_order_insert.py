"""On PostgreSQL a new order, its lines and its history go in as one statement.

Each statement there is a round trip, taken while the group committer's batch holds the lock
that the other server processes wait for (``SqlOrders.add``). SQLite keeps three inserts:
a statement is a function call there. The contract tests (``test_unit_of_work_contract``)
hold both to the same behaviour; these hold PostgreSQL to the one statement.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from reference_impl.service.ports import DuplicateIdempotencyKey
from reference_impl.storage import SqlUnitOfWork, driver, orders
from reference_impl.storage import tables as t
from tests.storage.test_unit_of_work_contract import an_order

pytestmark = pytest.mark.postgres


def children(engine: Engine, order_id: str) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(
                select(func.count()).select_from(table).where(table.c.order_id == order_id)
            ).scalar_one()
            for table in (t.order_lines, t.order_history)
        )


def test_an_order_and_its_children_are_one_statement(
    postgres_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    real = driver.execute

    def recording(conn: Any, statement: Any, params: Any = None) -> Any:
        sent.append(statement)
        return real(conn, statement, params)

    monkeypatch.setattr(orders, "execute", recording)
    order = an_order("o1", key="k")
    with SqlUnitOfWork(postgres_engine) as uow:
        uow.orders.add(order)
        uow.commit()
    assert len(sent) == 1
    assert children(postgres_engine, "o1") == (len(order.lines), len(order.history))
    with SqlUnitOfWork(postgres_engine) as uow:
        assert uow.orders.get("o1") == order


def test_a_clashing_key_writes_neither_the_order_nor_its_children(
    postgres_engine: Engine,
) -> None:
    with SqlUnitOfWork(postgres_engine) as uow:
        uow.orders.add(an_order("o1", key="k"))
        with pytest.raises(DuplicateIdempotencyKey):
            uow.orders.add(an_order("o2", key="k"))
        uow.commit()
    assert children(postgres_engine, "o2") == (0, 0)
    assert children(postgres_engine, "o1") != (0, 0)


@pytest.mark.parametrize("with_key", [True, False])
def test_the_statement_takes_the_drivers_fast_path(postgres_engine: Engine, with_key: bool) -> None:
    statement = orders._add_with_children(with_key)
    params = orders._order_row(an_order()) | orders._children_as_arrays(an_order())
    assert driver._prepare(statement, postgres_engine.dialect, tuple(params)) is not None
