"""The shop's gateway client: retries keep their idempotency key, and failures are named.

respx stands in for the gateway (DESIGN.md: respx for the reference implementation's
outbound calls in in-process tests); it intercepts below httpx's transport, which the
client calls directly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import respx

from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.outbound.gateway_client import (
    GatewayClient,
    GatewayUnavailable,
    SessionCreated,
)

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
    # httpx's own async transport, which respx intercepts (the default one is aiohttp's)
    return GatewayClient(GATEWAY, retries=retries, backoff=0, timeout=timeout,
                         public_url="http://shop.test/", transport=httpx.AsyncHTTPTransport())


def test_a_session_request_carries_the_order_and_an_idempotency_key(
    gateway: respx.MockRouter,
) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(200, json=SESSION)
    created = asyncio.run(client().create_checkout_session(ORDER))
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
    result = asyncio.run(client().charge(ORDER, "pm_card_visa"))
    assert result.outcome is PaymentOutcome.SUCCEEDED
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == ["charge-ord-1", "charge-ord-1"]


def test_every_try_failing_is_reported_with_the_last_reason(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(502)
    with pytest.raises(GatewayUnavailable, match="after 3 tries: HTTP 502"):
        asyncio.run(client(retries=2).create_checkout_session(ORDER))
    assert route.call_count == 3


def test_a_refusal_is_not_retried(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(400, json={"error": "bad"})
    with pytest.raises(GatewayUnavailable, match=r"refused .* HTTP 400"):
        asyncio.run(client().create_checkout_session(ORDER))
    assert route.call_count == 1


def test_a_session_without_its_link_is_unavailable(gateway: respx.MockRouter) -> None:
    gateway.post("/v1/checkout/sessions").respond(200, json={"id": "cs_1"})
    with pytest.raises(GatewayUnavailable, match="lacks 'url'"):
        asyncio.run(client().create_checkout_session(ORDER))


def test_the_configured_timeout_applies_to_every_phase(gateway: respx.MockRouter) -> None:
    route = gateway.post("/v1/checkout/sessions").respond(200, json=SESSION)
    asyncio.run(client(timeout=1.5).create_checkout_session(ORDER))
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}


# The default transport (aiohttp's, which respx cannot intercept) against real sockets on
# loopback: its errors must count as failed tries, as httpx's do.


async def _serve(handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
                 calls: list[bytes]) -> asyncio.Server:
    async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        calls.append(await reader.readuntil(b"\r\n\r\n"))
        await handle(reader, writer)

    return await asyncio.start_server(counted, "127.0.0.1", 0)


def _url(server: asyncio.Server) -> str:
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


def _real(url: str, **options: Any) -> GatewayClient:
    return GatewayClient(url, backoff=0, public_url="http://shop.test", **options)


def test_the_default_transport_talks_to_a_real_gateway() -> None:
    calls: list[bytes] = []
    body = json.dumps(SESSION).encode()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(int(calls[-1].split(b"content-length: ")[1].split(b"\r")[0]))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def run() -> SessionCreated:
        server = await _serve(answer, calls)
        client = _real(_url(server))
        try:
            return await client.create_checkout_session(ORDER)
        finally:
            await client.aclose()
            server.close()

    created = asyncio.run(run())
    assert (created.session_id, created.url) == ("cs_1", SESSION["url"])
    assert b"idempotency-key: session-ord-1" in calls[0].lower()


def test_a_refused_connection_is_retried_then_reported() -> None:
    async def run() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        url = _url(server)
        server.close()
        await server.wait_closed()  # the port is now closed: connections are refused
        client = _real(url, retries=1)
        try:
            await client.create_checkout_session(ORDER)
        finally:
            await client.aclose()

    with pytest.raises(GatewayUnavailable, match="after 2 tries: Connect"):
        asyncio.run(run())


@pytest.mark.parametrize("behaviour", ["silent", "hang_up", "not_http"])
def test_a_silent_hung_up_or_garbled_gateway_is_retried_then_reported(behaviour: str) -> None:
    calls: list[bytes] = []

    async def misbehave(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if behaviour == "silent":
            await asyncio.sleep(5)  # longer than the client's timeout
        elif behaviour == "not_http":
            writer.write(b"SMTP ready\r\n\r\n")
            await writer.drain()
        writer.close()

    async def run() -> None:
        server = await _serve(misbehave, calls)
        client = _real(_url(server), retries=2, timeout=0.3)
        try:
            await client.create_checkout_session(ORDER)
        finally:
            await client.aclose()
            server.close()

    with pytest.raises(GatewayUnavailable, match="after 3 tries"):
        asyncio.run(run())
    assert len(calls) == 3
    assert all(b"idempotency-key: session-ord-1" in call.lower() for call in calls)


@pytest.fixture
def answering_gateway() -> Iterator[str]:
    """A real gateway on a socket that opens a session for every request."""
    body = json.dumps(SESSION).encode()

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_default_transport_is_made_again_after_close(answering_gateway: str) -> None:
    """A test app's lifespan may stop, then start again on another event loop."""
    client = _real(answering_gateway)

    async def once() -> str:
        try:
            return (await client.create_checkout_session(ORDER)).session_id
        finally:
            await client.aclose()

    assert [asyncio.run(once()), asyncio.run(once())] == ["cs_1", "cs_1"]


def test_two_event_loops_each_get_a_transport_and_close_closes_both(
    answering_gateway: str,
) -> None:
    """An app served in process may be reached from two loops at once (a test client's and
    Schemathesis's portal): aiohttp's pool belongs to one loop and fails on another."""
    client = _real(answering_gateway, retries=0)
    loops = [asyncio.new_event_loop() for _ in range(2)]
    threads = [threading.Thread(target=loop.run_forever, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()

    def on(loop: asyncio.AbstractEventLoop, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=10)  # type: ignore[arg-type]

    try:
        for loop in loops * 2:  # each loop, twice: a pooled connection is reused there
            assert on(loop, client.create_checkout_session(ORDER)).session_id == "cs_1"
        sessions = [transport.client for transport in client._per_loop.values()]  # type: ignore[attr-defined]
        assert len(sessions) == 2
        on(loops[0], client.aclose())
        # The other loop's is closed on that loop, which aclose asks for and does not wait.
        deadline = time.monotonic() + 5
        while not all(session.closed for session in sessions) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [session.closed for session in sessions] == [True, True]
    finally:
        for loop, thread in zip(loops, threads, strict=True):
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
