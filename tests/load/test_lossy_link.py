"""The lossy link of ``--lose-answers`` (``load/lossy_link.py``), in process, between an
httpx client and a small shop: what it relays, and which answers it drops."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware

from conformance.doubles._serving import ServerThread
from load.lossy_link import LossyLink


def echo_shop() -> tuple[FastAPI, list[str]]:
    """Answers every request with what it received, gzipped; ``seen`` lists them."""
    app = FastAPI()
    app.add_middleware(GZipMiddleware, minimum_size=1)
    seen: list[str] = []

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def echo(request: Request, path: str) -> dict[str, object]:
        seen.append(f"{request.method} /{path}")
        return {"method": request.method, "path": path, "query": request.url.query,
                "body": (await request.body()).decode(),
                "key": request.headers.get("idempotency-key")}

    return app, seen


@pytest.fixture
def shop() -> Iterator[tuple[str, list[str]]]:
    app, seen = echo_shop()
    server = ServerThread(app, name="echo-shop")
    server.start()
    yield server.url, seen
    server.stop()


def serve_link(target: str, lose: float) -> tuple[ServerThread, LossyLink]:
    link = LossyLink(target, lose, seed=1)
    server = ServerThread(link, name="lossy-link")
    server.start()
    return server, link


def test_keyed_answers_are_lost_after_the_shop_did_the_work(
        shop: tuple[str, list[str]]) -> None:
    url, seen = shop
    server, link = serve_link(url, lose=1.0)
    try:
        with httpx.Client(base_url=server.url, headers={"Accept-Encoding": "gzip"}) as client:
            lost = client.post("/orders", json={"cart_id": "c1"},
                               headers={"Idempotency-Key": "k1"})
            assert lost.status_code == 503
            assert lost.headers["content-type"] == "application/problem+json"
            assert lost.json()["code"] == "answer_lost"
            # Without a key, and reads: relayed unchanged, the gzipped body decoded once.
            put = client.put("/carts/c1/items/mug?x=1", content=b"{}")
            assert put.status_code == 200
            assert put.json() == {"method": "PUT", "path": "carts/c1/items/mug", "query": "x=1",
                                  "body": "{}", "key": None}
            assert client.get("/products").json()["path"] == "products"
    finally:
        server.stop()
    assert seen == ["POST /orders", "PUT /carts/c1/items/mug", "GET /products"]
    assert link.lost == 1


def test_a_link_that_loses_nothing_relays_the_key(shop: tuple[str, list[str]]) -> None:
    url, _ = shop
    server, link = serve_link(url, lose=0.0)
    try:
        answer = httpx.post(f"{server.url}/orders", json={}, headers={"Idempotency-Key": "k2"})
    finally:
        server.stop()
    assert answer.status_code == 200 and answer.json()["key"] == "k2" and link.lost == 0


def test_an_unreachable_shop_is_reported_as_such() -> None:
    server, _ = serve_link("http://127.0.0.1:9", lose=0.5)
    try:
        answer = httpx.get(f"{server.url}/products")
    finally:
        server.stop()
    assert answer.status_code == 502 and answer.json()["code"] == "shop_unreachable"


def test_the_share_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match="from 0 to 1"):
        LossyLink("http://127.0.0.1:9", 1.5, seed=1)
