"""A link between the load's users and the shop that loses answers (``--lose-answers P``).

Jepsen's lost acknowledgement, for a purchase flow: the request reaches the shop and does
its work, and the answer never comes back. A buyer whose checkout answer is lost cannot
tell an order made from none; a careful client sends the checkout again under the same
``Idempotency-Key`` (``--retries``), and a conforming shop answers with the order it
already made. The audit's I9 (one order per checkout) tells whether it did.

The link is a relay on loopback that the run starts in front of the shop and points the
users at; setting the shop up, logging the buyers in and the audit go to the shop directly.
It relays every request and its answer unchanged, except that, with probability ``P``, the
answer to a request sent with an ``Idempotency-Key`` (the requests a client may safely
send again) is dropped once the shop has given it, and the buyer gets
``503 answer_lost`` in its place. A relay in Python costs CPU on the load's machine: it is
for testing correctness under lost answers, not for measuring the shop's speed.
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx

#: Headers of one hop (RFC 9110, section 7.6.1), and those the relay computes itself.
_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                  b"transfer-encoding", b"upgrade", b"host", b"content-length"})
_IDEMPOTENCY_KEY = b"idempotency-key"

Message = dict[str, Any]


def _problem(status: int, code: str, detail: str) -> tuple[int, bytes]:
    body = {"type": "about:blank", "title": code.replace("_", " "), "status": status,
            "code": code, "detail": detail}
    return status, json.dumps(body).encode()


async def answer_lost(send: Any) -> None:
    """Answer, in the shop's place, that its answer was lost (ASGI ``send``)."""
    await _send(send, *_problem(503, "answer_lost", "the lossy link dropped the shop's answer"))


class LossyLink:
    """An ASGI app relaying to ``target``; ``lost`` counts the answers it dropped."""

    def __init__(self, target: str, lose: float, seed: int) -> None:
        if not 0.0 <= lose <= 1.0:
            raise ValueError(f"the share of answers to lose must be from 0 to 1, not {lose}")
        self._target = target.rstrip("/")
        self._lose = lose
        self._rng = random.Random(seed)
        self._client: httpx.AsyncClient | None = None
        self.lost = 0

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._relay(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # A pool as large as the users may keep busy at once.
                limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
                self._client = httpx.AsyncClient(timeout=60.0, limits=limits, trust_env=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._client is not None:
                    await self._client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _relay(self, scope: Message, receive: Any, send: Any) -> None:
        assert self._client is not None, "the link serves after its lifespan started"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in _HOP]
        url = self._target + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        try:
            answer = await self._client.request(scope["method"], url, headers=headers,
                                                content=body)
        except httpx.HTTPError as exc:
            await _send(send, *_problem(502, "shop_unreachable",
                                        f"the lossy link could not reach the shop: {exc}"))
            return
        keyed = any(name == _IDEMPOTENCY_KEY for name, _ in scope["headers"])
        if keyed and self._rng.random() < self._lose:
            self.lost += 1
            await answer_lost(send)
            return
        # httpx hands the body decoded: its Content-Encoding no longer applies.
        relayed = [(k.encode("latin-1"), v.encode("latin-1"))
                   for k, v in answer.headers.multi_items()
                   if k.encode("latin-1").lower() not in _HOP
                   and k.lower() != "content-encoding"]
        await _send(send, answer.status_code, answer.content, relayed)


async def _send(send: Any, status: int, body: bytes,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    if headers is None:
        headers = [(b"content-type", b"application/problem+json")]
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
