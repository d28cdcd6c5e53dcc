"""Signed webhook deliveries per second through the gateway double, against plain POSTs.

A receiver that answers 200 runs in a child process on loopback. In one run, with the same
pre-encoded event bodies and the same receiver, it measures:

* a plain ``httpx.AsyncClient`` POST loop (the baseline: no signing, no bookkeeping);
* the gateway double's delivery machinery (``Dispatcher``): queueing, HMAC signing of
  every attempt, the POST, and an event-log entry per attempt;

once one request at a time and once with ``--concurrency`` requests in flight, and prints
both rates and their ratio. Bounded: ``--events`` per measurement (a few seconds in all).

    .venv/bin/python benchmarks/bench_webhook_delivery.py [--events 600] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.doubles.gateway.config import DeliveryPolicy, WebhookTarget
from conformance.doubles.gateway.delivery import Dispatcher
from conformance.doubles.gateway.faults import FaultDice, Faults
from conformance.doubles.gateway.ledger import Ledger
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome, encode_event
from reference_impl.domain.policies import WebhookDialect

SECRET = "whsec_bench"


async def _receiver_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    # A bare ASGI app: the receiver should cost as little as possible, for both sides alike.
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _serve_receiver(ports: Any) -> None:
    import uvicorn

    from conformance.doubles._serving import bind_loopback

    sock = bind_loopback()
    ports.put(sock.getsockname()[1])
    config = uvicorn.Config(_receiver_app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _bodies(n: int) -> list[bytes]:
    return [
        encode_event(
            WebhookDialect.STRIPE,
            PaymentEvent(
                event_id=f"evt_bench_{i}",
                order_id=f"ord_{i}",
                session_id=f"cs_{i}",
                outcome=PaymentOutcome.SUCCEEDED,
                amount=Money(1999, "EUR"),
                created=int(time.time()),
            ),
        )
        for i in range(n)
    ]


async def plain_posts(url: str, bodies: list[bytes], concurrency: int) -> float:
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(trust_env=False, limits=limits) as client:

        async def post(body: bytes) -> None:
            async with slots:
                response = await client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                response.raise_for_status()

        await post(bodies[0])  # open the connection outside the clock
        started = time.perf_counter()
        await asyncio.gather(*(post(b) for b in bodies))
        return len(bodies) / (time.perf_counter() - started)


async def double_deliveries(url: str, bodies: list[bytes], concurrency: int) -> float:
    ledger = Ledger()
    target = WebhookTarget(url=url, secret=SECRET, dialect=WebhookDialect.STRIPE)
    dice = FaultDice(Faults())
    dispatcher = Dispatcher(
        ledger=ledger,
        target=lambda: target,
        dice=lambda: dice,
        policy=DeliveryPolicy(max_in_flight=concurrency),
    )
    await dispatcher.start()

    async def deliver(batch: list[bytes]) -> None:
        for n, body in enumerate(batch):
            dispatcher.submit(
                event_id=f"evt_{n}",
                event_type="checkout.session.completed",
                order_id=f"ord_{n}",
                dialect="stripe",
                body=body,
            )
        while not dispatcher.idle:
            await asyncio.sleep(0.0005)

    try:
        await deliver(bodies[:1])
        started = time.perf_counter()
        await deliver(bodies)
        elapsed = time.perf_counter() - started
    finally:
        await dispatcher.stop()
    attempts = ledger.entries(kind="delivery.attempt")
    delivered = sum(1 for a in attempts if a["outcome"] == "delivered")
    if delivered != len(bodies) + 1:
        raise SystemExit(f"only {delivered} of {len(bodies) + 1} webhooks were delivered")
    return len(bodies) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    receiver = context.Process(target=_serve_receiver, args=(ports,), daemon=True)
    receiver.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=30)}/webhook"
        bodies = _bodies(args.events)
        print(f"{args.events} stripe-dialect webhooks per measurement, receiver {url}")
        for concurrency in (1, args.concurrency):
            plain = asyncio.run(plain_posts(url, bodies, concurrency))
            double = asyncio.run(double_deliveries(url, bodies, concurrency))
            print(
                f"  in flight {concurrency:>3}: plain httpx POST {plain:8.1f}/s   "
                f"gateway double (signed, logged) {double:8.1f}/s   "
                f"ratio double/plain {double / plain:.2f}"
            )
    finally:
        receiver.terminate()
        receiver.join(10)


if __name__ == "__main__":
    main()
