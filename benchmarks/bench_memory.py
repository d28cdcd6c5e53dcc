"""Memory: the shop under sustained order creation, and the simulator, each against a
baseline measured in the same run.

1. **The shop** (``purchaseflow serve --workers 2`` and the gateway double as real
   processes on loopback, on SQLite, and on PostgreSQL with ``--postgres-url``): the
   resident memory of the shop's processes after ``GET /healthz`` at 50 clients for a
   while (the baseline: what a warmed server holds), then after each of several windows of
   order creation at 50 clients (``wrk``). Printed: memory after the orders against after
   the health checks (a ratio), and the growth per 1,000 orders over the second half of
   the windows. A leak grows with every window; a cache that fills up (SQLite's pages, the
   driver's prepared statements, the allocator's arenas) slows down and stops.
2. **The simulator**: the peak of Python's allocations (``tracemalloc``) during one
   replication of the flash-sale scenario, against the bare SimPy model of
   ``bench_sim.py`` scheduling the same number of events for as many sessions (a ratio);
   and what the process still holds after many replications against after one: the
   million-session run is a long series of replications in one process, so anything a
   replication leaves behind adds up.

    apt-get install wrk   # once, for the shop
    .venv/bin/python benchmarks/bench_memory.py [--seconds 8] [--windows 6]
        [--postgres-url URL] [--replications 20] [--only shop|sim]

Resident memory is read with psutil (the sum over the server's processes); on a machine
where other work runs, it does not move with the neighbours' load, unlike the CPU figures.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_order_creation import bench_shop, prepare, wrk  # noqa: E402
from benchmarks.bench_sim import FLASH_SALE, bare_simpy  # noqa: E402
from scenarios import load_scenario  # noqa: E402
from sim.model import simulate  # noqa: E402

MIB = 1024 * 1024
CLIENTS = 50


def resident_bytes(pid: int) -> int:
    """Resident memory of ``pid`` and its children (the uvicorn workers)."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class ShopMemory:
    after_health: int
    after_windows: list[int]  # resident memory after each window of orders
    orders_per_window: list[int]

    @property
    def ratio(self) -> float:
        return self.after_windows[-1] / self.after_health

    @property
    def settled_from(self) -> int:
        """The window (0-based) whose end the growth is measured from: the middle one, so
        that the first windows' filling of caches is left out."""
        return (len(self.after_windows) - 1) // 2

    @property
    def growth_per_thousand(self) -> float:
        """Bytes per 1,000 orders over the second half of the windows."""
        start = self.settled_from
        orders = sum(self.orders_per_window[start + 1:])
        return (self.after_windows[-1] - self.after_windows[start]) * 1000 / max(orders, 1)


def measure_shop(database_url: str, seconds: int, windows: int) -> ShopMemory:
    with bench_shop(database_url) as (shop, _):
        script = prepare(shop.url)
        wrk(f"{shop.url}/healthz", CLIENTS, seconds)
        after_health = resident_bytes(shop.pid)
        after, counts = [], []
        for _ in range(windows):
            result = wrk(shop.url, CLIENTS, seconds, script)
            if result.non_2xx:
                raise RuntimeError(f"{result.non_2xx} orders were refused")
            counts.append(result.requests)
            after.append(resident_bytes(shop.pid))
    return ShopMemory(after_health, after, counts)


def print_shop(label: str, memory: ShopMemory, seconds: int) -> None:
    print(f"{label}: 2 workers, {CLIENTS} clients, {seconds} s per window (wrk)")
    print(f"  after GET /healthz (the baseline)   {memory.after_health / MIB:8.1f} MiB")
    for i, (size, orders) in enumerate(
        zip(memory.after_windows, memory.orders_per_window, strict=True), start=1
    ):
        print(f"  after orders window {i} ({orders:6,} orders) {size / MIB:8.1f} MiB")
    print(f"  ratio after the orders / after the health checks = {memory.ratio:.2f}")
    print(f"  growth from window {memory.settled_from + 1}'s end to the last's: "
          f"{memory.growth_per_thousand / 1024:.1f} KiB per 1,000 orders")


@dataclass
class SimMemory:
    sessions: int
    events: int
    peak: int  # bytes, one replication
    bare_peak: int  # bytes, the bare SimPy model of as many sessions and events
    held_after_one: int
    held_after_many: int
    replications: int

    @property
    def ratio(self) -> float:
        return self.peak / self.bare_peak

    @property
    def held_per_replication(self) -> float:
        return (self.held_after_many - self.held_after_one) / max(self.replications - 1, 1)


def _held() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def measure_sim(replications: int) -> SimMemory:
    scenario = load_scenario(FLASH_SALE)
    # One replication first, untraced: module caches and numpy's lazily loaded submodules
    # are the process's, not the replication's.
    simulate(scenario, replication=0)
    tracemalloc.start()
    try:
        held_after_one = _held()
        tracemalloc.reset_peak()
        result = simulate(scenario, replication=1)
        peak = tracemalloc.get_traced_memory()[1] - held_after_one
        sessions, events = int(result.metrics["sessions"]), result.events
        del result
        held_after_one = _held()
        for r in range(2, replications + 1):
            simulate(scenario, replication=r)
        held_after_many = _held()
        tracemalloc.reset_peak()
        bare_start = _held()
        bare_simpy(sessions, events)
        bare_peak = tracemalloc.get_traced_memory()[1] - bare_start
    finally:
        tracemalloc.stop()
    return SimMemory(sessions, events, peak, bare_peak, held_after_one, held_after_many,
                     replications)


def print_sim(memory: SimMemory) -> None:
    print(f"simulator: {FLASH_SALE.relative_to(ROOT)}, one replication of "
          f"{memory.sessions:,} sessions and {memory.events:,} events (tracemalloc)")
    print(f"  peak of one replication   {memory.peak / MIB:8.2f} MiB")
    print(f"  bare SimPy, same events   {memory.bare_peak / MIB:8.2f} MiB")
    print(f"  ratio                     {memory.ratio:8.2f}")
    print(f"  held after 1 replication and after {memory.replications}: "
          f"{memory.held_after_one / MIB:.2f} and {memory.held_after_many / MIB:.2f} MiB, "
          f"{memory.held_per_replication / 1024:.1f} KiB per replication")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk window")
    parser.add_argument("--windows", type=int, default=6, help="windows of order creation")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--postgres-url",
                        default=os.environ.get("PURCHASEFLOW_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=["shop", "sim"])
    args = parser.parse_args()
    if args.windows < 2 or args.replications < 2:
        parser.error("--windows and --replications need at least 2 (growth is a difference)")
    if args.only != "sim":
        if shutil.which("wrk") is None:
            print("bench_memory: needs wrk (apt-get install wrk)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            print_shop("SQLite", measure_shop(f"sqlite:///{tmp}/bench.db", args.seconds,
                                              args.windows), args.seconds)
        if args.postgres_url:
            print_shop("PostgreSQL", measure_shop(args.postgres_url, args.seconds,
                                                  args.windows), args.seconds)
    if args.only != "shop":
        print_sim(measure_sim(args.replications))
    return 0


if __name__ == "__main__":
    sys.exit(main())
