"""Order creation at 50 concurrent clients, against GET /healthz on the same server.

Starts the reference implementation (``purchaseflow serve``) and the gateway double as
real processes on loopback, prepares one cart per order, then measures, in one run:

* ``GET /healthz`` throughput (the baseline: the same server, the same client);
* ``POST /orders`` throughput, p50 and p99 (hosted checkout: each order also opens a
  session at the gateway double, as in seeds 000, 001 and 004).

It prints both and the ratio, on SQLite and, when ``--postgres-url`` is given (or
``PURCHASEFLOW_TEST_POSTGRES_URL`` is set), on PostgreSQL. Issue 2's goal on a 2-core
machine: orders reach at least 25% of healthz throughput, with p99 at or under 100 ms.

    .venv/bin/python benchmarks/bench_order_creation.py [--orders 1000] [--clients 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.reference_shop import ReferenceShop, free_port
from tests.support.shop import (
    ADMIN,
    ADMIN_TOKEN,
    CATALOG,
    JWT_SECRET,
    WEBHOOK_SECRET,
    order_body,
)


@dataclass
class Measurement:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(url: str, calls: list[tuple[str, str, dict | None, dict]], clients: int
                ) -> Measurement:
    """Run ``calls`` with ``clients`` concurrent connections, each taking the next call."""
    queue: asyncio.Queue[tuple[str, str, dict | None, dict]] = asyncio.Queue()
    for call in calls:
        queue.put_nowait(call)
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                method, path, body, headers = queue.get_nowait()
                started = time.perf_counter()
                response = await client.request(method, path, json=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return Measurement(len(calls), time.perf_counter() - started, latencies, errors)


async def prepare_carts(url: str, orders: int, clients: int) -> list[tuple[str, dict]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        users = [f"buyer{i}" for i in range(clients)]
        await client.post("/admin/reset", headers=ADMIN)
        await client.put("/admin/catalog", json=CATALOG, headers=ADMIN)
        await client.put("/admin/accounts", headers=ADMIN, json={"accounts": [
            {"user_id": u, "email": f"{u}@buyer.test"} for u in users]})
        await client.post("/admin/stock", headers=ADMIN, json={"entries": [
            {"variant_id": "mug-red", "location_id": "wh-north", "quantity": orders * 2}]})
        tokens = {}
        for user in users:
            minted = await client.post("/admin/tokens", json={"user_id": user}, headers=ADMIN)
            tokens[user] = {"Authorization": f"Bearer {minted.json()['token']}"}
        semaphore = asyncio.Semaphore(20)

        async def one(i: int) -> tuple[str, dict]:
            auth = tokens[users[i % len(users)]]
            async with semaphore:
                cart = (await client.post("/carts", headers=auth)).json()["cart_id"]
                await client.put(f"/carts/{cart}/items/mug-red", headers=auth,
                                 json={"location_id": "wh-north", "quantity": 1})
            return cart, auth

        return list(await asyncio.gather(*(one(i) for i in range(orders))))


def run_one(database_url: str, label: str, orders: int, clients: int, workers: int) -> None:
    gateway_port = free_port()
    gateway = subprocess.Popen(
        [sys.executable, "-m", "reference_impl.cli", "gateway", "--port", str(gateway_port),
         "--secret", WEBHOOK_SECRET], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with ReferenceShop(workers=workers, database_url=database_url, jwt_secret=JWT_SECRET,
                           admin_token=ADMIN_TOKEN, webhook_secret=WEBHOOK_SECRET,
                           gateway_url=f"http://127.0.0.1:{gateway_port}",
                           send_confirmation_email=False) as shop:
            carts = asyncio.run(prepare_carts(shop.url, orders, clients))
            health = asyncio.run(drive(shop.url, [("GET", "/healthz", None, {})] * orders * 2,
                                       clients))
            placed = asyncio.run(drive(shop.url, [
                ("POST", "/orders", order_body(cart), auth) for cart, auth in carts], clients))
    finally:
        gateway.terminate()
        gateway.wait(10)
    ratio = placed.throughput / health.throughput
    print(f"{label}: workers={workers} clients={clients}")
    print(f"  GET /healthz   {health.throughput:8.1f} req/s  p50 {health.percentile(.5):6.1f} ms"
          f"  p99 {health.percentile(.99):6.1f} ms  errors {health.errors}")
    print(f"  POST /orders   {placed.throughput:8.1f} req/s  p50 {placed.percentile(.5):6.1f} ms"
          f"  p99 {placed.percentile(.99):6.1f} ms  errors {placed.errors}")
    print(f"  ratio orders/healthz = {ratio:.2f} (goal >= 0.25); "
          f"order p99 {placed.percentile(.99):.1f} ms (goal <= 100); "
          f"mean order latency {statistics.mean(placed.latencies) * 1000:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--postgres-url", default=os.environ.get("PURCHASEFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_one(f"sqlite:///{tmp}/bench.db", "SQLite", args.orders, args.clients, args.workers)
    if args.postgres_url:
        run_one(args.postgres_url, "PostgreSQL", args.orders, args.clients, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
