"""Real servers for tests: ``purchaseflow serve`` with the gateway double and the mail sink
on loopback."""

from __future__ import annotations

from typing import Any

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop
from tests.support.shop import ADMIN_TOKEN, JWT_SECRET, WEBHOOK_SECRET

Doubles = tuple[GatewayDouble, MailSink]


def start_shop(database_url: str, doubles: Doubles, *, workers: int = 2,
               **settings: Any) -> ReferenceShop:
    """A started server on ``database_url`` whose gateway and mail are ``doubles``."""
    gateway, sink = doubles
    shop = ReferenceShop(
        workers=workers, database_url=database_url, jwt_secret=JWT_SECRET,
        admin_token=ADMIN_TOKEN, webhook_secret=WEBHOOK_SECRET, gateway_url=gateway.url,
        smtp_port=sink.smtp_port, worker_poll=0.1, **settings,
    ).start()
    gateway.configure_webhook(url=f"{shop.url}/payments/webhook")
    return shop
