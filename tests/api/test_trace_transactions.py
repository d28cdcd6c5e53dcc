"""A request's trace goes in with a transaction that the request needs anyway.

The cart handlers commit it with the cart (``Runtime.run_unit_here``); browse and view,
which write nothing else, read on a read-only unit and hand their trace to the group
committer, whose batch stores it (``Runtime.read``); a refusal's events are stored after
its rollback.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from tests.support.shop import ADMIN

COMMITTER = "purchaseflow-group-commit"  # the group committer's thread (group_commit.py)


@contextmanager
def transactions(*, by_committer: list[str] | None = None) -> Iterator[list[str]]:
    """Every transaction's end on any engine while the block runs: "commit" or "rollback";
    ``by_committer`` gets those of the group committer's thread."""
    ends: list[str] = []

    def end(how: str) -> None:
        ends.append(how)
        if by_committer is not None and threading.current_thread().name == COMMITTER:
            by_committer.append(how)

    def committed(_connection: object) -> None:
        end("commit")

    def rolled_back(_connection: object) -> None:
        end("rollback")

    event.listen(Engine, "commit", committed)
    event.listen(Engine, "rollback", rolled_back)
    try:
        yield ends
    finally:
        event.remove(Engine, "commit", committed)
        event.remove(Engine, "rollback", rolled_back)


def stored(shop: TestClient, correlation_id: str) -> list[tuple[str, str, str]]:
    events = shop.get("/admin/trace", params={"correlation_id": correlation_id},
                      headers=ADMIN).json()
    return [(e["source"], e["target"], e["message"]) for e in events]


def test_a_browse_reads_alone_and_its_trace_goes_in_with_a_batch(shop: TestClient) -> None:
    batches: list[str] = []
    with transactions(by_committer=batches) as ends:
        listed = shop.get("/products", headers={"X-Correlation-Id": "browse-1"})
        viewed = shop.get("/products/mug", headers={"X-Correlation-Id": "browse-1"})
    assert listed.status_code == 200 and viewed.status_code == 200
    # Each read ends its read-only transaction; the committer's batches commit the traces.
    assert ends.count("rollback") == 2
    assert batches == ["commit", "commit"] and ends.count("commit") == 2
    assert stored(shop, "browse-1") == [
        ("Buyer", "Catalog", "list_products"), ("Catalog", "Buyer", "list_products"),
        ("Buyer", "Catalog", "view_product"), ("Catalog", "Buyer", "view_product"),
    ]


def test_a_refused_view_still_stores_what_it_traced(shop: TestClient) -> None:
    answer = shop.get("/products/no-such-product", headers={"X-Correlation-Id": "browse-2"})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert stored(shop, "browse-2") == [("Buyer", "Catalog", "view_product")]


def test_a_cart_write_is_one_transaction_with_its_trace(shop: TestClient) -> None:
    with transactions() as ends:
        cart = shop.post("/carts").json()["cart_id"]
        added = shop.put(f"/carts/{cart}/items/mug-red",
                         json={"location_id": "wh-north", "quantity": 1})
        removed = shop.delete(f"/carts/{cart}/items/mug-red")
    assert added.status_code == 200 and removed.status_code == 200
    assert ends == ["commit", "commit", "commit"]
    assert stored(shop, cart) == [
        ("Buyer", "Cart", "create_cart"), ("Cart", "Buyer", "create_cart"),
        ("Buyer", "Cart", "add_to_cart"),
        ("Cart", "Catalog", "get_variant"), ("Catalog", "Cart", "get_variant"),
        ("Cart", "Inventory", "check_inventory"), ("Inventory", "Cart", "check_inventory"),
        ("Cart", "Buyer", "add_to_cart"),
        ("Buyer", "Cart", "remove_from_cart"), ("Cart", "Buyer", "remove_from_cart"),
    ]


def test_a_refused_cart_write_still_stores_what_it_traced(shop: TestClient) -> None:
    cart = shop.post("/carts").json()["cart_id"]
    refused = shop.put(f"/carts/{cart}/items/mug-red",
                       json={"location_id": "wh-north", "quantity": 6})  # 5 in stock
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_inventory"
    assert stored(shop, cart)[2:] == [
        ("Buyer", "Cart", "add_to_cart"),
        ("Cart", "Catalog", "get_variant"), ("Catalog", "Cart", "get_variant"),
        ("Cart", "Inventory", "check_inventory"), ("Inventory", "Cart", "check_inventory"),
        ("Cart", "Buyer", "insufficient_inventory"),  # seed 002's refusal
    ]
