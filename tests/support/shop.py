"""Test helpers to set up and drive the reference implementation over HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx

from reference_impl.domain import signatures
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome, encode_event
from reference_impl.domain.policies import WebhookDialect

ADMIN_TOKEN = "test-admin-token"
JWT_SECRET = "test-jwt-secret-0123456789abcdef"
WEBHOOK_SECRET = "whsec_test_secret"

CATALOG: dict[str, Any] = {
    "locations": [
        {"location_id": "wh-north", "name": "North warehouse"},
        {"location_id": "wh-south", "name": "South warehouse"},
    ],
    "products": [
        {
            "product_id": "mug",
            "name": "Mug",
            "description": "A mug",
            "variants": [
                {"variant_id": "mug-red", "sku": "MUG-R", "name": "Red mug",
                 "price": {"amount": 1200, "currency": "EUR"}},
                {"variant_id": "mug-blue", "sku": "MUG-B", "name": "Blue mug",
                 "price": {"amount": 1500, "currency": "EUR"}},
            ],
        },
        {
            "product_id": "poster",
            "name": "Poster",
            "variants": [
                {"variant_id": "poster-a2", "sku": "POS-A2", "name": "Poster A2",
                 "price": {"amount": 900, "currency": "EUR"}},
                {"variant_id": "poster-gone", "sku": "POS-X", "name": "Undeliverable poster",
                 "price": {"amount": 100, "currency": "EUR"}, "deliverable": False},
            ],
        },
    ],
}
ACCOUNTS = {
    "accounts": [
        {"user_id": "alice", "email": "alice@buyer.test"},
        {"user_id": "bob", "email": "bob@buyer.test"},
        {"user_id": "carol", "email": "carol@buyer.test", "active": False},
    ]
}
STOCK = {
    "entries": [
        {"variant_id": "mug-red", "location_id": "wh-north", "quantity": 5},
        {"variant_id": "mug-red", "location_id": "wh-south", "quantity": 2},
        {"variant_id": "mug-blue", "location_id": "wh-north", "quantity": 10},
        {"variant_id": "poster-a2", "location_id": "wh-north", "quantity": 50},
        {"variant_id": "poster-gone", "location_id": "wh-north", "quantity": 5},
    ]
}
SHIPPING = {"name": "Alice", "address": "1 Loop Road", "city": "Localhost",
            "postal_code": "12700", "country": "FR"}
ADMIN = {"X-Admin-Token": ADMIN_TOKEN}


def setup_shop(client: httpx.Client, stock: dict[str, Any] | None = None) -> None:
    for method, path, body in (
        ("POST", "/admin/reset", None),
        ("PUT", "/admin/catalog", CATALOG),
        ("PUT", "/admin/accounts", ACCOUNTS),
        ("POST", "/admin/stock", stock or STOCK),
    ):
        response = client.request(method, path, json=body, headers=ADMIN)
        assert response.status_code == 200, response.text


def token(client: httpx.Client, user_id: str) -> dict[str, str]:
    response = client.post("/admin/tokens", json={"user_id": user_id}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def cart_with(
    client: httpx.Client, auth: dict[str, str], lines: dict[str, tuple[str, int]]
) -> str:
    """A new cart owned by the token's buyer holding ``{variant: (location, quantity)}``."""
    cart = client.post("/carts", headers=auth)
    assert cart.status_code == 201, cart.text
    cart_id = str(cart.json()["cart_id"])
    for variant, (location, quantity) in lines.items():
        put = client.put(f"/carts/{cart_id}/items/{variant}", headers=auth,
                         json={"location_id": location, "quantity": quantity})
        assert put.status_code == 200, put.text
    return cart_id


def order_body(cart_id: str, **extra: Any) -> dict[str, Any]:
    return {"cart_id": cart_id, "shipping": SHIPPING, **extra}


def signed_event(
    order: dict[str, Any],
    outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED,
    *,
    dialect: WebhookDialect = WebhookDialect.GENERIC,
    event_id: str | None = None,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    amount: int | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A webhook body and headers, as the gateway would send them for ``order``."""
    total = order["total"]
    event = PaymentEvent(
        event_id=event_id or f"evt_{order['order_id']}_{outcome.value}",
        order_id=order["order_id"],
        session_id=(order.get("payment") or {}).get("session_id") or "cs_test",
        outcome=outcome,
        amount=Money(total["amount"] if amount is None else amount, total["currency"]),
        created=int(time.time()),
    )
    body = encode_event(dialect, event)
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        signatures.SIGNATURE_HEADERS[dialect]: signatures.sign(secret, ts, body),
        "Content-Type": "application/json",
    }
    return body, headers


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """Everything the shop holds that a bad request must not change."""
    return {
        path: client.get(path, headers=ADMIN).json()
        for path in ("/admin/stock", "/admin/orders", "/admin/outbox")
    }
