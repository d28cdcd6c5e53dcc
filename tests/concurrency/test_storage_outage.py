"""A real server whose PostgreSQL refuses it: it answers 503 ``storage_unavailable`` with
Retry-After, loses nothing, and serves again once the database lets it back in; and it
never opens more connections than ``--db-connections`` per worker.

The database is played by a role of the test's own (``PostgresRole``): its connection
limit refuses the server exactly as ``max_connections`` would, without touching the
other tests sharing the server.
"""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from conformance.reference_shop import ReferenceShop
from tests.support.postgres_role import PostgresRole
from tests.support.servers import Doubles, start_shop
from tests.support.shop import (
    ADMIN,
    order_body,
    setup_shop,
    signed_event,
    token,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def start(role: PostgresRole, doubles: Doubles, *, workers: int,
          db_connections: int) -> ReferenceShop:
    return start_shop(role.url, doubles, workers=workers, db_connections=db_connections)


def place_order(client: httpx.Client, auth: dict[str, str]) -> dict[str, object]:
    cart_id = client.post("/carts", headers=auth).json()["cart_id"]
    put = client.put(f"/carts/{cart_id}/items/mug-red", headers=auth,
                     json={"location_id": "wh-north", "quantity": 1})
    assert put.status_code == 200, put.text
    order = client.post("/orders", json=order_body(cart_id), headers=auth)
    assert order.status_code == 201, order.text
    result: dict[str, object] = order.json()
    return result


def test_a_refused_database_is_a_503_and_the_retry_after_it_succeeds(
    postgres_role: PostgresRole, doubles: Doubles
) -> None:
    _, sink = doubles
    shop = start(postgres_role, doubles, workers=1, db_connections=4)
    try:
        with httpx.Client(base_url=shop.url, timeout=30) as client:
            setup_shop(client)
            auth = token(client, "alice")
            order = place_order(client, auth)
            body, headers = signed_event(order)
            second_cart = client.post("/carts", headers=auth).json()["cart_id"]
            client.put(f"/carts/{second_cart}/items/mug-blue", headers=auth,
                       json={"location_id": "wh-north", "quantity": 1})
            keyed = {**auth, "Idempotency-Key": "outage-order-1"}

            # The database goes away: it drops the server's sessions and refuses new ones.
            postgres_role.limit_connections(0)
            postgres_role.close_connections()
            # An order (the group committer's path) is refused as a whole...
            lost = client.post("/orders", json=order_body(second_cart), headers=keyed)
            assert lost.status_code == 503 and lost.json()["code"] == "storage_unavailable"
            for attempt in range(3):
                refused = client.post("/payments/webhook", content=body, headers=headers)
                assert refused.status_code == 503, (attempt, refused.text)
                assert refused.headers["content-type"] == "application/problem+json"
                assert refused.json()["code"] == "storage_unavailable"
                assert refused.headers["retry-after"] == "1"
            view = client.get(f"/orders/{order['order_id']}", headers=auth)
            assert view.status_code == 503 and view.json()["code"] == "storage_unavailable"

            # It comes back: the buyer's retry of the order, under the same key, creates
            # it once, and the gateway's next delivery of the event is applied, once.
            postgres_role.limit_connections(-1)
            retried = client.post("/orders", json=order_body(second_cart), headers=keyed)
            assert retried.status_code == 201, retried.text
            replayed = client.post("/orders", json=order_body(second_cart), headers=keyed)
            assert replayed.json()["order_id"] == retried.json()["order_id"]
            (blue,) = [s for s in client.get("/admin/stock", headers=ADMIN).json()
                       if (s["variant_id"], s["location_id"]) == ("mug-blue", "wh-north")]
            assert blue["reserved"] == 1  # one order's worth, not two
            accepted = client.post("/payments/webhook", content=body, headers=headers)
            assert accepted.status_code == 200, accepted.text
            assert accepted.json()["verdict"] == "paid"
            again = client.post("/payments/webhook", content=body, headers=headers)
            assert again.status_code == 200, again.text
            assert again.json()["verdict"] == "duplicate"
            final = client.get(f"/orders/{order['order_id']}", headers=auth).json()
            assert [h["status"] for h in final["history"]] == ["pending_payment", "paid"]
            assert len(sink.wait_for(str(order["order_id"]), 1, timeout=20)) == 1
    finally:
        shop.stop()
        print(shop.output()[-5000:])  # shown by pytest if the test failed
    log = shop.output()
    # An outage is a line per failed request or sweep, not a traceback.
    assert "storage unavailable on POST /payments/webhook" in log
    assert "Traceback" not in log, log[-3000:]


def test_a_server_stays_within_its_connections_under_a_burst(
    postgres_role: PostgresRole, doubles: Doubles
) -> None:
    workers, per_worker = 2, 4
    shop = start(postgres_role, doubles, workers=workers, db_connections=per_worker)
    try:
        # One connection more and PostgreSQL refuses it: any 503 below means the server
        # opened more than it was told to.
        postgres_role.limit_connections(workers * per_worker)
        with httpx.Client(base_url=shop.url, timeout=60) as client:
            setup_shop(client, {"entries": [
                {"variant_id": "mug-red", "location_id": "wh-north", "quantity": 1000}]})
            auth = token(client, "alice")
            orders = [place_order(client, auth) for _ in range(10)]
        deliveries = [signed_event(order) for order in orders for _ in range(6)]

        def call(i: int) -> int:
            with httpx.Client(base_url=shop.url, timeout=60) as own:
                if i % 2:
                    order_id = orders[i % len(orders)]["order_id"]
                    return own.get(f"/orders/{order_id}", headers=auth).status_code
                body, headers = deliveries[i // 2]
                return own.post("/payments/webhook", content=body, headers=headers).status_code

        with concurrent.futures.ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(call, range(2 * len(deliveries))))
        assert statuses == [200] * len(statuses), sorted(set(statuses))
        assert postgres_role.connections() <= workers * per_worker
    finally:
        shop.stop()
