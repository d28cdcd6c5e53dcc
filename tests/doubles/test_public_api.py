"""The doubles' public surface is exactly what docs/doubles.md documents (httpx's rule)."""

from __future__ import annotations

import conformance.doubles.gateway as gateway
import conformance.doubles.mailsink as mailsink


def test_gateway_exports() -> None:
    assert sorted(gateway.__all__) == [
        "DEFAULT_SECRET",
        "DeliveryPolicy",
        "Faults",
        "FaultsError",
        "GatewayDouble",
        "StateError",
        "WebhookTarget",
        "load_faults",
    ]
    for name in gateway.__all__:
        assert getattr(gateway, name) is not None


def test_mailsink_exports() -> None:
    assert sorted(mailsink.__all__) == sorted(["ORDER_HEADER", "MailMessage", "MailSink"])
    assert mailsink.ORDER_HEADER == "X-Purchaseflow-Order-Id"
