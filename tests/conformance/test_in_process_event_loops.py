"""An in-process shop is reached from two event loops: the suite's walks through Starlette's
test client, the schema phase through Schemathesis's own ASGI portal. Its gateway calls must
work from both (they once failed there, now and then, with a 500 on ``POST /orders``: the
gateway client's connection pool belonged to the first loop)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal

from conformance.adapters.base import HttpCall, Outcome, interpret
from conformance.adapters.httpx_transport import InProcessTransport
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.schema_checks import AsServed
from conformance.target import Target
from tests.conformance.conftest import TargetFactory
from tests.conformance.shops import seed


def _checkout(target: Target, send: Callable[[HttpCall], Outcome]) -> dict[str, Any]:
    """One unit ordered and its payment link asked for: a checkout session at the gateway."""
    adapter, buyer = target.adapter, target.active_buyers[0]
    variant, location, _ = target.setup.stock[0]
    cart = adapter.cart_id(send(adapter.create_cart_call(buyer)))
    send(adapter.set_line_call(buyer, cart, variant, location, 1))
    placed = send(adapter.place_order_call(buyer, cart))
    assert placed.status == 201, placed
    link = send(adapter.payment_link_call(buyer, adapter.order_of(placed)["order_id"]))
    assert link.status in (200, 201), link
    return adapter.payment_link_of(link)


def test_the_shop_reaches_the_gateway_from_a_second_event_loop(
    make_target: TargetFactory, gateway: GatewayDouble, mail: MailSink,
) -> None:
    with make_target(seed("000")) as target:
        target.reset()
        in_process = target.adapter.transport
        assert isinstance(in_process, InProcessTransport)
        # From the test client's loop, as the walks do...
        first = _checkout(target, in_process.send)
        # ...then from a portal of its own, as Schemathesis's schema phase does.
        served: Any = AsServed(in_process.app)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(served),
                                   base_url="http://shop.local")
        with start_blocking_portal() as portal:

            def send(call: HttpCall) -> Outcome:
                response = portal.call(partial(
                    client.request, call.method, call.path, json=call.json,
                    headers=call.headers, params=call.params, content=call.content))
                return interpret(call, response.status_code,
                                 response.json() if response.content else None, 0.0,
                                 response.headers)

            try:
                second = _checkout(target, send)
            finally:
                portal.call(client.aclose)
    assert first["session_id"] != second["session_id"]
    assert gateway.session(second["session_id"])["amount_total"] > 0
