"""Races against a real server: ``purchaseflow serve --workers 2`` on SQLite and PostgreSQL,
with the gateway double and the mail sink on loopback (issue 2, section 4)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

import httpx
import pytest

from reference_impl.domain.order_status import is_valid_history
from tests.support.servers import Doubles, start_shop
from tests.support.shop import (
    ADMIN,
    order_body,
    setup_shop,
    signed_event,
    token,
)

pytestmark = pytest.mark.slow

BUYERS = 100
UNITS = 5


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def buyers_with_one_unit_each(client: httpx.Client) -> list[tuple[dict[str, str], str]]:
    accounts = [{"user_id": f"buyer{i}", "email": f"buyer{i}@buyer.test"} for i in range(BUYERS)]
    assert client.put("/admin/accounts", json={"accounts": accounts},
                      headers=ADMIN).status_code == 200
    prepared = []
    for account in accounts:
        auth = token(client, account["user_id"])
        cart_id = client.post("/carts", headers=auth).json()["cart_id"]
        put = client.put(f"/carts/{cart_id}/items/mug-red", headers=auth,
                         json={"location_id": "wh-north", "quantity": 1})
        assert put.status_code == 200, put.text
        prepared.append((auth, cart_id))
    return prepared


def in_parallel(calls: list[Any], workers: int = 50) -> list[Any]:
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.mark.parametrize("policy", ["at_order", "reserve", "on_payment"])
def test_100_buyers_race_for_5_units(
    database_url: str, doubles: Doubles, policy: str
) -> None:
    gateway, sink = doubles
    shop = start_shop(database_url, doubles, stock_commit=policy)
    try:
        with httpx.Client(base_url=shop.url, timeout=60) as client:
            setup_shop(client, stock={"entries": [
                {"variant_id": "mug-red", "location_id": "wh-north", "quantity": UNITS}]})
            prepared = buyers_with_one_unit_each(client)

            def attempt(auth: dict[str, str], cart_id: str) -> httpx.Response:
                with httpx.Client(base_url=shop.url, timeout=60) as own:
                    return own.post("/orders", json=order_body(cart_id), headers=auth)

            responses = in_parallel([lambda a=a, c=c: attempt(a, c) for a, c in prepared])
            assert all(r.status_code in (201, 409) for r in responses), {
                r.status_code for r in responses}
            assert all(r.json()["code"] == "items_unavailable"
                       for r in responses if r.status_code == 409)
            created = [r.json() for r in responses if r.status_code == 201]
            if policy == "on_payment":
                assert len(created) >= UNITS  # checkout only checks; payment decides
            else:
                assert len(created) == UNITS  # never more orders than units held

            # Every buyer with an order pays, all at once, through the gateway double.
            in_parallel([lambda o=o: gateway.complete(o["payment"]["session_id"], "succeeded")
                         for o in created])
            gateway.wait_idle(60)

            orders = client.get("/admin/orders", headers=ADMIN).json()
            paid = [o for o in orders if o["status"] == "paid"]
            refunded = [o for o in orders if o["status"] == "refunded"]
            assert len(paid) == UNITS
            assert len(refunded) == len(created) - UNITS
            assert all(o["status"] in ("paid", "refunded") for o in orders)
            assert all(is_valid_history(o["history"]) for o in orders)
            (level,) = client.get("/admin/stock", headers=ADMIN).json()
            assert level["on_hand"] == 0 and level["reserved"] == 0 and level["sold"] == UNITS
            assert level["received"] == level["on_hand"] + level["reserved"] + level["sold"]
            for order in paid:  # exactly one confirmation on the wire per paid order
                assert len(sink.wait_for(order["order_id"], 1, timeout=20)) == 1
            assert all(not sink.messages(o["order_id"]) for o in refunded)
    finally:
        shop.stop()


def test_20_concurrent_deliveries_of_one_event(
    database_url: str, doubles: Doubles
) -> None:
    _, sink = doubles
    shop = start_shop(database_url, doubles)
    try:
        with httpx.Client(base_url=shop.url, timeout=60) as client:
            setup_shop(client)
            auth = token(client, "alice")
            cart_id = client.post("/carts", headers=auth).json()["cart_id"]
            client.put(f"/carts/{cart_id}/items/mug-red", headers=auth,
                       json={"location_id": "wh-north", "quantity": 2})
            order = client.post("/orders", json=order_body(cart_id), headers=auth).json()
            body, headers = signed_event(order)

            def deliver() -> httpx.Response:
                with httpx.Client(base_url=shop.url, timeout=60) as own:
                    return own.post("/payments/webhook", content=body, headers=headers)

            responses = in_parallel([deliver] * 20, workers=20)
            refused = [(r.status_code, r.text) for r in responses if r.status_code != 200]
            assert not refused
            verdicts = sorted(r.json()["verdict"] for r in responses)
            assert verdicts == ["duplicate"] * 19 + ["paid"]
            final = client.get(f"/orders/{order['order_id']}", headers=auth).json()
            assert [h["status"] for h in final["history"]] == ["pending_payment", "paid"]
            (level,) = [s for s in client.get("/admin/stock", headers=ADMIN).json()
                        if s["variant_id"] == "mug-red" and s["location_id"] == "wh-north"]
            assert level["sold"] == 2
            assert len(sink.wait_for(order["order_id"], 1, timeout=20)) == 1
            import time

            time.sleep(1.0)  # give a second, wrong email the time to show up
            assert len(sink.messages(order["order_id"])) == 1
    finally:
        shop.stop()
