"""Issue 3's proof: ``serve`` + ``gateway`` + ``mailsink`` as real servers on loopback.

Order, pay at the gateway, real signed webhook, ``paid``, exactly one email at the sink;
then a decline: ``payment_failed``, no email, stock back. In both webhook dialects.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop
from tests.support.native import loaded_extensions
from tests.support.shop import (
    ADMIN,
    ADMIN_TOKEN,
    JWT_SECRET,
    WEBHOOK_SECRET,
    cart_with,
    order_body,
    setup_shop,
    token,
)


def wait_for_status(client: httpx.Client, auth: dict[str, str], order_id: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        order = client.get(f"/orders/{order_id}", headers=auth).json()
        if order["status"] != "pending_payment" or time.monotonic() > deadline:
            return dict(order)
        time.sleep(0.05)


def level(client: httpx.Client) -> dict:
    return next(s for s in client.get("/admin/stock", headers=ADMIN).json()
                if s["variant_id"] == "mug-red" and s["location_id"] == "wh-north")


#: ``serve --http --loop``: the default pure-Python stack, and the C one.
STACKS = {
    "h11-asyncio": {},
    "httptools-uvloop": {"http_parser": "httptools", "event_loop": "uvloop"},
}


@pytest.mark.parametrize(
    ("dialect", "stack"),
    [("generic", "h11-asyncio"), ("stripe", "h11-asyncio"), ("generic", "httptools-uvloop")],
)
def test_pay_and_decline_through_the_doubles(dialect: str, stack: str, tmp_path: Path) -> None:
    with (
        MailSink() as sink,
        GatewayDouble(secret=WEBHOOK_SECRET, dialect=dialect) as gateway,
        ReferenceShop(database_url=f"sqlite:///{tmp_path / 'shop.db'}", jwt_secret=JWT_SECRET,
                      admin_token=ADMIN_TOKEN, webhook_secret=WEBHOOK_SECRET,
                      webhook_dialect=dialect, stock_commit="reserve",
                      gateway_url=gateway.url, smtp_port=sink.smtp_port,
                      worker_poll=0.1, **STACKS[stack]) as shop,
        httpx.Client(base_url=shop.url, timeout=30) as client,
    ):
        # The server runs the stack it was asked for (one process: it serves itself).
        assert loaded_extensions(shop.pid, "httptools", "uvloop") == set(
            STACKS[stack].values())
        gateway.configure_webhook(url=f"{shop.url}/payments/webhook")
        setup_shop(client)
        auth = token(client, "alice")

        # Paid: the buyer completes the hosted session; the gateway's webhook confirms.
        cart_id = cart_with(client, auth, {"mug-red": ("wh-north", 2)})
        order = client.post("/orders", json=order_body(cart_id), headers=auth).json()
        assert order["status"] == "pending_payment" and order["payment"]["url"]
        gateway.complete(order["payment"]["url"], "succeeded")
        gateway.wait_idle(20)
        assert wait_for_status(client, auth, order["order_id"])["status"] == "paid"
        (mail,) = sink.wait_for(order["order_id"], 1, timeout=20)
        assert order["order_id"] in mail.subject
        time.sleep(0.5)
        assert len(sink.messages(order["order_id"])) == 1  # exactly one, not just one so far
        assert level(client)["sold"] == 2
        delivered = [a for a in gateway.attempts(order["order_id"])
                     if a.get("outcome") == "delivered"]
        assert delivered, gateway.attempts(order["order_id"])

        # Declined: payment_failed, no email, the reserved units back on hand.
        before = level(client)
        cart_id = cart_with(client, auth, {"mug-red": ("wh-north", 1)})
        declined = client.post("/orders", json=order_body(cart_id), headers=auth).json()
        assert level(client)["reserved"] == before["reserved"] + 1
        gateway.complete(declined["payment"]["session_id"], "failed")
        gateway.wait_idle(20)
        assert wait_for_status(client, auth, declined["order_id"])["status"] == "payment_failed"
        assert level(client) == before
        time.sleep(0.5)
        assert sink.messages(declined["order_id"]) == []
