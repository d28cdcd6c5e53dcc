"""Every statement of a purchase runs on the driver's fast path (``storage/driver.py``),
on SQLite and on PostgreSQL, except those that cannot: an expanding IN, whose SQL changes
with the number of values (admin writes of a catalog).

A statement falls back to SQLAlchemy's own execution, silently, when the fast path cannot
run it as compiled: a result column without a name (``func.count()`` unlabelled) was
enough, and the catalog's count, the expiry worker's next wake-up and the group
committer's batch lock each ran the slow way for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reference_impl.storage import driver
from tests.support.shop import ADMIN, cart_with, order_body, signed_event, token


@pytest.fixture
def slow_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The SQL of every statement the fast path turned down while the test ran."""
    refused: list[str] = []
    prepare = driver._prepare

    def spying(stmt: Any, dialect: Any, keys: tuple[str, ...]) -> Any:
        prepared = prepare(stmt, dialect, keys)
        if prepared is None:
            refused.append(str(stmt.compile(dialect=dialect)))
        return prepared

    monkeypatch.setattr(driver, "_prepared", {})  # compile everything afresh
    monkeypatch.setattr(driver, "_prepare", spying)
    yield refused


def test_a_purchase_runs_every_statement_on_the_fast_path(
    make_shop: Any, slow_statements: list[str]
) -> None:
    shop: TestClient = make_shop(stock_commit="reserve", reservation_ttl=60)
    slow_statements.clear()  # the catalog's setup by the admin API may take the slow path
    auth = token(shop, "alice")
    assert shop.get("/products").status_code == 200
    assert shop.get("/products/mug").status_code == 200
    cart = cart_with(shop, auth, {"mug-red": ("wh-north", 2)})
    placed = shop.post("/orders", json=order_body(cart), headers=auth)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert shop.get(f"/orders/{order['order_id']}", headers=auth).status_code == 200
    body, headers = signed_event(order)
    assert shop.post("/payments/webhook", content=body, headers=headers).status_code == 200
    assert shop.get("/admin/orders", headers=ADMIN).status_code == 200
    shop.app.state.runtime.run_background_once()  # the expiry worker's sweep and wake-up
    assert slow_statements == []
