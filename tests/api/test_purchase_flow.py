"""The seed flows over HTTP, in process, per stock policy and payment mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from reference_impl.domain.payment import PaymentOutcome
from tests.api.conftest import ShopFactory
from tests.support.shop import ADMIN, cart_with, order_body, signed_event, token


def stock_of(client: TestClient, variant: str, location: str = "wh-north") -> dict[str, int]:
    levels = client.get("/admin/stock", params={"variant_id": variant}, headers=ADMIN).json()
    return next(lv for lv in levels if lv["location_id"] == location)


def place(client: TestClient, user: str = "alice", quantity: int = 2, **extra: object) -> dict:
    auth = token(client, user)
    cart_id = cart_with(client, auth, {"mug-red": ("wh-north", quantity)})
    response = client.post("/orders", json=order_body(cart_id, **extra), headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


EXPECTED_AFTER_ORDER = {
    "at_order": {"on_hand": 3, "reserved": 0, "sold": 2},
    "reserve": {"on_hand": 3, "reserved": 2, "sold": 0},
    "on_payment": {"on_hand": 5, "reserved": 0, "sold": 0},
}


@pytest.mark.parametrize("policy", ["at_order", "reserve", "on_payment"])
def test_hosted_checkout_paid_by_webhook(make_shop: ShopFactory, policy: str) -> None:
    shop = make_shop(stock_commit=policy)
    order = place(shop)
    assert order["status"] == "pending_payment"
    assert order["total"] == {"amount": 2400, "currency": "EUR"}  # I6: 2 x 1200
    assert order["payment"]["url"].endswith(f"/pay/cs_{order['order_id']}")
    level = stock_of(shop, "mug-red")
    assert {k: level[k] for k in ("on_hand", "reserved", "sold")} == EXPECTED_AFTER_ORDER[policy]

    body, headers = signed_event(order)
    ack = shop.post("/payments/webhook", content=body, headers=headers)
    assert ack.status_code == 200 and ack.json()["verdict"] == "paid"

    auth = token(shop, "alice")
    paid = shop.get(f"/orders/{order['order_id']}", headers=auth).json()
    assert [h["status"] for h in paid["history"]] == ["pending_payment", "paid"]
    assert stock_of(shop, "mug-red") | {} == {
        "variant_id": "mug-red", "location_id": "wh-north", "on_hand": 3, "reserved": 0,
        "sold": 2, "received": 5,
    }
    cart = shop.get(f"/carts/{order['cart_id']}", headers=auth).json()
    assert cart["lines"] == []  # seed 001: cart cleared after success
    outbox = shop.get("/admin/outbox", params={"order_id": order["order_id"]}, headers=ADMIN)
    assert [m["kind"] for m in outbox.json()] == ["confirmation_email"]


@pytest.mark.parametrize("policy", ["at_order", "reserve", "on_payment"])
def test_declined_payment_puts_stock_back(make_shop: ShopFactory, policy: str) -> None:
    shop = make_shop(stock_commit=policy)
    order = place(shop)
    body, headers = signed_event(order, PaymentOutcome.FAILED)
    assert shop.post("/payments/webhook", content=body, headers=headers).json()["verdict"] == (
        "payment_failed"
    )
    auth = token(shop, "alice")
    failed = shop.get(f"/orders/{order['order_id']}", headers=auth).json()
    assert failed["status"] == "payment_failed"
    level = stock_of(shop, "mug-red")
    assert (level["on_hand"], level["reserved"], level["sold"]) == (5, 0, 0)
    cart = shop.get(f"/carts/{order['cart_id']}", headers=auth).json()
    assert len(cart["lines"]) == 1  # I7: the cart is cleared only after success
    assert shop.get("/admin/outbox", headers=ADMIN).json() == []


def test_late_failure_never_regresses_a_paid_order(shop: TestClient) -> None:
    order = place(shop)
    for outcome in (PaymentOutcome.SUCCEEDED, PaymentOutcome.FAILED, PaymentOutcome.EXPIRED):
        body, headers = signed_event(order, outcome)
        assert shop.post("/payments/webhook", content=body, headers=headers).status_code == 200
    final = shop.get(f"/orders/{order['order_id']}", headers=token(shop, "alice")).json()
    assert final["status"] == "paid"
    assert [h["status"] for h in final["history"]] == ["pending_payment", "paid"]


def test_duplicate_webhook_has_one_effect(shop: TestClient) -> None:
    order = place(shop)
    body, headers = signed_event(order)
    verdicts = [
        shop.post("/payments/webhook", content=body, headers=headers).json()["verdict"]
        for _ in range(5)
    ]
    assert verdicts == ["paid"] + ["duplicate"] * 4
    assert len(shop.get("/admin/outbox", headers=ADMIN).json()) == 1
    assert stock_of(shop, "mug-red")["sold"] == 2


def test_stripe_dialect(make_shop: ShopFactory) -> None:
    from reference_impl.domain.policies import WebhookDialect

    shop = make_shop(webhook_dialect="stripe")
    order = place(shop)
    body, headers = signed_event(order, dialect=WebhookDialect.STRIPE)
    assert "Stripe-Signature" in headers
    assert shop.post("/payments/webhook", content=body, headers=headers).json()["verdict"] == (
        "paid"
    )
    # A generic-dialect header is not accepted by a stripe-dialect shop.
    order2 = place(shop, quantity=1)
    body, headers = signed_event(order2)
    assert shop.post("/payments/webhook", content=body, headers=headers).status_code == 400


def test_synchronous_payment_answers_with_the_final_status(make_shop: ShopFactory) -> None:
    shop = make_shop(payment_mode="synchronous", stock_commit="on_payment")
    order = place(shop)
    assert order["status"] == "paid"  # seed 002: processPayment inside the request
    declined = place(shop, quantity=1, payment_method="pm_card_chargeDeclined")
    assert declined["status"] == "payment_failed"
    assert stock_of(shop, "mug-red")["sold"] == 2


def test_on_payment_oversell_is_refunded(make_shop: ShopFactory) -> None:
    shop = make_shop(stock_commit="on_payment")
    first = place(shop, quantity=5)
    second = place(shop, "bob", quantity=5)  # both pass the availability check
    for order in (first, second):
        body, headers = signed_event(order)
        shop.post("/payments/webhook", content=body, headers=headers)
    statuses = [
        shop.get(f"/orders/{o['order_id']}", headers=token(shop, o["owner_id"])).json()
        for o in (first, second)
    ]
    assert statuses[0]["status"] == "paid"
    assert [h["status"] for h in statuses[1]["history"]] == ["pending_payment", "paid", "refunded"]
    level = stock_of(shop, "mug-red")
    assert level["on_hand"] == 0 and level["sold"] == 5
    kinds = sorted(m["kind"] for m in shop.get("/admin/outbox", headers=ADMIN).json())
    assert kinds == ["confirmation_email", "refund"]


def test_reservation_expiry_cancels_and_releases(make_shop: ShopFactory) -> None:
    shop = make_shop(stock_commit="reserve", reservation_ttl=0.05)
    order = place(shop)
    assert stock_of(shop, "mug-red")["reserved"] == 2
    import time

    time.sleep(0.1)
    runtime = shop.app.state.runtime  # type: ignore[attr-defined]
    runtime.run_background_once()
    final = shop.get(f"/orders/{order['order_id']}", headers=token(shop, "alice")).json()
    assert final["status"] == "cancelled"
    assert stock_of(shop, "mug-red")["reserved"] == 0
    # A payment that arrives after expiry does not revive the order; it is refunded.
    body, headers = signed_event(order)
    ack = shop.post("/payments/webhook", content=body, headers=headers).json()
    assert ack["verdict"] == "late_success_refunded"


def test_idempotency_key(shop: TestClient) -> None:
    auth = token(shop, "alice") | {"Idempotency-Key": "key-1"}
    cart_id = cart_with(shop, auth, {"mug-red": ("wh-north", 1)})
    first = shop.post("/orders", json=order_body(cart_id), headers=auth)
    again = shop.post("/orders", json=order_body(cart_id), headers=auth)
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["order_id"] == first.json()["order_id"]
    other = shop.post("/orders", json=order_body(cart_id, expected_total={
        "amount": 1200, "currency": "EUR"}), headers=auth)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert len(shop.get("/admin/orders", headers=ADMIN).json()) == 1


def test_checkout_rejections(shop: TestClient) -> None:
    alice = token(shop, "alice")
    cart_id = cart_with(shop, alice, {"mug-red": ("wh-north", 1)})
    wrong = shop.post("/orders", json=order_body(cart_id, expected_total={
        "amount": 1, "currency": "EUR"}), headers=alice)
    assert wrong.status_code == 409 and wrong.json()["code"] == "price_changed"
    carol = token(shop, "carol")
    carol_cart = cart_with(shop, carol, {"mug-red": ("wh-north", 1)})
    inactive = shop.post("/orders", json=order_body(carol_cart), headers=carol)
    assert inactive.status_code == 403 and inactive.json()["code"] == "account_inactive"
    empty = cart_with(shop, alice, {})
    assert shop.post("/orders", json=order_body(empty), headers=alice).json()["code"] == (
        "cart_empty"
    )
    assert shop.get("/admin/orders", headers=ADMIN).json() == []


def test_other_buyers_cannot_see_orders_or_carts(shop: TestClient) -> None:
    order = place(shop)
    bob = token(shop, "bob")
    assert shop.get(f"/orders/{order['order_id']}", headers=bob).status_code == 404
    assert shop.get(f"/carts/{order['cart_id']}", headers=bob).status_code == 404
    assert shop.get(f"/carts/{order['cart_id']}").status_code == 404
    put = shop.put(f"/carts/{order['cart_id']}/items/mug-blue", headers=bob,
                   json={"location_id": "wh-north", "quantity": 1})
    assert put.status_code == 404


def test_payment_link_is_fetched_later_when_the_gateway_was_down(
    make_shop: ShopFactory, gateway_mock: object
) -> None:
    import httpx

    shop = make_shop()
    route = gateway_mock.routes["session"]  # type: ignore[attr-defined]
    original = route.side_effect
    route.side_effect = httpx.ConnectError("down")
    order = place(shop)
    assert order["payment"] == {"session_id": None, "url": None}
    route.side_effect = original
    link = shop.get(f"/orders/{order['order_id']}/payment", headers=token(shop, "alice"))
    assert link.status_code == 200 and link.json()["session_id"] == f"cs_{order['order_id']}"


def test_products_show_availability_per_location(shop: TestClient) -> None:
    page = shop.get("/products").json()
    assert page["total"] == 2
    mug = shop.get("/products/mug").json()
    red = next(v for v in mug["variants"] if v["variant_id"] == "mug-red")
    assert sorted((a["location_id"], a["available"]) for a in red["availability"]) == [
        ("wh-north", 5), ("wh-south", 2)]
    assert shop.get("/products", params={"limit": 1}).json()["items"][0]["product_id"] == "mug"


def test_status_labels_use_the_profile_vocabulary(make_shop: ShopFactory) -> None:
    shop = make_shop(status_labels={"pending_payment": "Pending Payment", "paid": "Processing"})
    order = place(shop)
    assert order["status"] == "pending_payment" and order["status_label"] == "Pending Payment"
