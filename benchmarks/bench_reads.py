"""Reads at 50 concurrent clients, against GET /healthz on the same server, and an order's
page read while orders are being created.

Starts the reference implementation (``purchaseflow serve --workers 2``) and the gateway
double as real processes on loopback, prepares the catalog, buyers and carts of the order
benchmark (``bench_order_creation.py``), places one order, then measures with ``wrk``:

* ``GET /healthz`` (the baseline: same server, same client);
* ``GET /products`` and ``GET /products/mug`` (browsing: a read, and its trace stored);
* ``GET /orders/{id}`` alone (a read-only unit of work), and again on 10 connections while
  40 others create orders (on SQLite the writer holds the lock most of the time).

Each is printed beside the health check's throughput as a ratio, with its p50 and p99.

    apt-get install wrk   # once
    .venv/bin/python benchmarks/bench_reads.py [--seconds 8] [--postgres-url URL]
        [--writer-priority 10]   # the shop's writer thread favoured (needs CAP_SYS_NICE)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_order_creation import Result, bench_shop, prepare, wrk
from tests.support.shop import (
    ADMIN,
    SHIPPING,
)

AUTHORIZED = """
wrk.headers["Authorization"] = "Bearer %s"
"""


def place_order(url: str) -> tuple[str, str]:
    """A buyer's token and an order of theirs to read."""
    with httpx.Client(base_url=url, timeout=30, headers=ADMIN) as client:
        token = client.post("/admin/tokens", json={"user_id": "buyer0"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        cart = client.post("/carts", headers=auth).json()["cart_id"]
        client.put(f"/carts/{cart}/items/mug-red", headers=auth,
                   json={"location_id": "wh-north", "quantity": 1})
        placed = client.post("/orders", headers=auth, json={"cart_id": cart, "shipping": SHIPPING})
        placed.raise_for_status()
        return token, str(placed.json()["order_id"])


def line(label: str, result: Result, health: Result) -> str:
    return (f"  {label:<34} {result.rps:8.1f} req/s  ratio {result.rps / health.rps:4.2f}  "
            f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
            f"non-2xx {result.non_2xx}")


def run_one(database_url: str, label: str, seconds: int, writer_priority: int = 0) -> None:
    with bench_shop(database_url, writer_priority=str(writer_priority)) as (shop, _):
        orders_script = prepare(shop.url)
        token, order_id = place_order(shop.url)
        order_url = f"{shop.url}/orders/{order_id}"
        reader = AUTHORIZED % token
        health = wrk(f"{shop.url}/healthz", 50, seconds)
        results = [
            ("GET /products", wrk(f"{shop.url}/products", 50, seconds)),
            ("GET /products/mug", wrk(f"{shop.url}/products/mug", 50, seconds)),
            ("GET /orders/{id}", wrk(order_url, 50, seconds, reader)),
        ]
        with ThreadPoolExecutor(2) as pool:
            creating = pool.submit(wrk, shop.url, 40, seconds, orders_script)
            reading = pool.submit(wrk, order_url, 10, seconds, reader)
            during, orders = reading.result(), creating.result()
    priority = f", writer priority +{writer_priority}" if writer_priority else ""
    print(f"{label}: 2 workers, wrk, {seconds} s each{priority}")
    print(f"  {'GET /healthz':<34} {health.rps:8.1f} req/s  (the baseline)")
    for name, result in results:
        print(line(name, result, health))
    print(line("GET /orders/{id}, 10 conns, during", during, health))
    print(line("  POST /orders on 40 conns beside it", orders, health))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--writer-priority", type=int, default=0, metavar="N",
                        help="the shop's writer thread N nice levels up (serve "
                             "--writer-priority; needs CAP_SYS_NICE)")
    parser.add_argument("--postgres-url",
                        default=os.environ.get("PURCHASEFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_reads: needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        run_one(f"sqlite:///{tmp}/bench.db", "SQLite", args.seconds, args.writer_priority)
    if args.postgres_url:
        run_one(args.postgres_url, "PostgreSQL", args.seconds, args.writer_priority)
    return 0


if __name__ == "__main__":
    sys.exit(main())
