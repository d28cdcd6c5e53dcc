"""In-process HTTP tests of the reference implementation: the real app, real storage
(SQLite file, PostgreSQL when configured), and respx standing in for the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from reference_impl.config import Settings
from reference_impl.http.app import create_app
from tests.support.shop import ADMIN_TOKEN, JWT_SECRET, WEBHOOK_SECRET, setup_shop

GATEWAY = "http://gateway.test"


def _session(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    session_id = f"cs_{body['order_id']}"
    return httpx.Response(200, json={
        "id": session_id, "object": "checkout.session", "url": f"{GATEWAY}/pay/{session_id}",
        "amount_total": body["amount"], "currency": body["currency"].lower(),
        "client_reference_id": body["order_id"], "status": "open", "payment_status": "unpaid",
    })


def _charge(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    declined = body.get("payment_method") == "pm_card_chargeDeclined"
    return httpx.Response(200, json={
        "id": f"ch_{body['order_id']}", "object": "charge",
        "status": "failed" if declined else "succeeded",
        "amount": body["amount"], "currency": body["currency"], "order_id": body["order_id"],
    })


@pytest.fixture
def gateway_mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=GATEWAY, assert_all_called=False) as router:
        router.post("/v1/checkout/sessions", name="session").mock(side_effect=_session)
        router.post("/v1/charges", name="charge").mock(side_effect=_charge)
        yield router


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shop.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


ShopFactory = Callable[..., TestClient]


@pytest.fixture
def make_shop(
    database_url: str, gateway_mock: respx.MockRouter
) -> Iterator[ShopFactory]:
    """``make_shop(stock_commit="reserve", ...)``: a started app with the sample catalog."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        settings = Settings(
            database_url=database_url, jwt_secret=JWT_SECRET, admin_token=ADMIN_TOKEN,
            webhook_secret=WEBHOOK_SECRET, gateway_url=GATEWAY, gateway_retries=0,
            **overrides,
        )
        # httpx's own async transport, which respx intercepts (the default one is aiohttp's)
        app = create_app(settings, run_workers=False, gateway_transport=httpx.AsyncHTTPTransport())
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        setup_shop(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def shop(make_shop: ShopFactory) -> TestClient:
    return make_shop()
