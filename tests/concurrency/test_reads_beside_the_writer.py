"""On SQLite the pages that only read (an order, a cart, the admin's stock, orders, outbox
and trace) answer while another process holds the database's write lock: they read the last
commit (``SqlUnitOfWork(read_only=True)``) where they used to queue for the lock, behind
every batch of every server process. A real server, a real file; the test holds the lock
with a connection of its own, as a second server process would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.support.servers import Doubles, start_shop
from tests.support.shop import ADMIN, cart_with, order_body, setup_shop, token


def test_reads_answer_while_another_process_holds_the_write_lock(
    tmp_path: Path, doubles: Doubles
) -> None:
    database = tmp_path / "shop.db"
    shop = start_shop(f"sqlite:///{database}", doubles)
    try:
        with httpx.Client(base_url=shop.url, timeout=30) as client:
            setup_shop(client)
            auth = token(client, "alice")
            cart_id = cart_with(client, auth, {"mug-red": ("wh-north", 1)})
            placed = client.post("/orders", headers=auth, json=order_body(cart_id))
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["order_id"]

            other = sqlite3.connect(database, isolation_level=None, timeout=30)
            other.execute("BEGIN IMMEDIATE")
            try:
                reads = {
                    f"/orders/{order_id}": auth,
                    f"/carts/{cart_id}": auth,
                    "/admin/stock": ADMIN,
                    "/admin/orders": ADMIN,
                    f"/admin/outbox?order_id={order_id}": ADMIN,
                    f"/admin/trace?correlation_id={cart_id}": ADMIN,
                }
                for path, headers in reads.items():
                    response = client.get(path, headers=headers, timeout=5)
                    assert response.status_code == 200, (path, response.text)
                assert client.get(f"/orders/{order_id}", headers=auth).json()["status"] == (
                    "pending_payment"
                )
                # The lock is really held: a write waits for it.
                with pytest.raises(httpx.ReadTimeout):
                    client.post("/carts", headers=auth, timeout=0.5)
            finally:
                other.execute("COMMIT")
                other.close()
            assert client.post("/carts", headers=auth).status_code == 201
    finally:
        shop.stop()
