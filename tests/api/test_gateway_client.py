"""The shop's gateway client: retries keep their idempotency key, and failures are named.

respx stands in for the gateway (DESIGN.md: respx for the reference implementation's
outbound calls in in-process tests); it intercepts below httpx's transport, which the
client calls directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
import respx

from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.outbound.gateway_client import GatewayClient, GatewayUnavailable

GATEWAY = "http://gateway.test"
SESSION = {"id": "cs_1", "url": f"{GATEWAY}/pay/cs_1"}


class _Order:
    """The two fields the client reads; an ``Order`` needs a whole cart to be built."""

    order_id = "ord-1"
    total = Money(2500, "EUR")


ORDER: Order = _Order()  # type: ignore[assignment]


@pytest.fixture
def gateway() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GATEWAY, assert_all_called=False) as router:
        yield router


def client(retries: int = 2, timeout: float = 5.0) -> GatewayClient:
    return GatewayClient(GATEWAY, retries=retries, backoff=0, timeout=timeout,
                         public_url="http://shop.test/")


def test_a_session_request_carries_the_order_and_an_idempotency_key(
    gateway: respx.MockRouter,
) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(200, json=SESSION)
    created = client().create_checkout_session(ORDER)
    assert (created.session_id, created.url) == ("cs_1", SESSION["url"])
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == "session-ord-1"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "amount": 2500, "currency": "EUR", "order_id": "ord-1",
        "success_url": "http://shop.test/orders/ord-1",
        "cancel_url": "http://shop.test/orders/ord-1",
    }


@pytest.mark.parametrize("failure", [
    httpx.Response(503), httpx.Response(429), httpx.Response(200, text="<html>"),
    httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
])
def test_a_failed_try_is_retried_with_the_same_key(
    gateway: respx.MockRouter, failure: httpx.Response | Exception
) -> None:
    route = gateway.post("/v1/charges").mock(
        side_effect=[failure, httpx.Response(200, json={"id": "ch_1", "status": "succeeded"})]
    )
    result = client().charge(ORDER, "pm_card_visa")
    assert result.outcome is PaymentOutcome.SUCCEEDED
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == ["charge-ord-1", "charge-ord-1"]


def test_every_try_failing_is_reported_with_the_last_reason(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(502)
    with pytest.raises(GatewayUnavailable, match="after 3 tries: HTTP 502"):
        client(retries=2).create_checkout_session(ORDER)
    assert route.call_count == 3


def test_a_refusal_is_not_retried(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(400, json={"error": "bad"})
    with pytest.raises(GatewayUnavailable, match=r"refused .* HTTP 400"):
        client().create_checkout_session(ORDER)
    assert route.call_count == 1


def test_a_session_without_its_link_is_unavailable(gateway: respx.MockRouter) -> None:
    gateway.post("/v1/checkout/sessions").respond(200, json={"id": "cs_1"})
    with pytest.raises(GatewayUnavailable, match="lacks 'url'"):
        client().create_checkout_session(ORDER)


def test_the_configured_timeout_applies_to_every_phase(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(200, json=SESSION)
    client(timeout=1.5).create_checkout_session(ORDER)
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}
