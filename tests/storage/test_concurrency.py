"""Real concurrency on the SQL stores: many threads, each its own unit of work and connection.

The guards under test are the database's, not Python's: a conditional UPDATE for stock,
a primary key for webhook events, a unique key for Idempotency-Keys and a version column
for orders. The in-memory store is single-threaded by design and is not run here.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine

from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import MoveKind, StockLevel, StockMove
from reference_impl.domain.order import StatusChange
from reference_impl.domain.order_status import OrderStatus
from reference_impl.service.ports import DuplicateIdempotencyKey, RecordedPaymentEvent
from reference_impl.service.retry import retry_on_conflict
from reference_impl.storage import SqlUnitOfWork, make_engine
from tests.storage.test_unit_of_work_contract import an_order, receive

T = TypeVar("T")


def all_at_once(n: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..n-1)`` on n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def task(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(task, range(n)))


def test_fifty_buyers_race_for_five_units(sql_engine: Engine) -> None:
    with SqlUnitOfWork(sql_engine) as uow:
        receive(uow, "v1", "L1", 5)
        uow.commit()
    seen: list[int] = []

    def buy(_: int) -> bool:
        with SqlUnitOfWork(sql_engine) as uow:
            # Read, then write: the pattern that fails at once under SQLite's deferred
            # transactions when another writer commits in between.
            level = uow.stock.get("v1", "L1")
            assert level is not None
            seen.append(level.on_hand)
            try:
                uow.stock.apply([StockMove(MoveKind.SELL, "v1", "L1", 1)])
            except InsufficientInventory:
                return False
            uow.commit()
            return True

    outcomes = all_at_once(50, buy)
    assert outcomes.count(True) == 5
    assert min(seen) >= 0
    with SqlUnitOfWork(sql_engine) as uow:
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 0, 0, 5, 5)


def test_twenty_deliveries_of_one_webhook_event_have_one_effect(sql_engine: Engine) -> None:
    def deliver(i: int) -> bool:
        with SqlUnitOfWork(sql_engine) as uow:
            event = RecordedPaymentEvent("evt_1", "o1", "succeeded", "paid", float(i))
            fresh = uow.payment_events.record(event)
            if fresh:
                uow.outbox.add("confirmation_email", "o1", {"delivery": i}, float(i))
            uow.commit()
            return fresh

    assert all_at_once(20, deliver).count(True) == 1
    with SqlUnitOfWork(sql_engine) as uow:
        assert len(uow.payment_events.list()) == 1
        assert len(uow.outbox.list()) == 1


def test_one_of_twenty_senders_claims_an_outbox_message(sql_engine: Engine) -> None:
    with SqlUnitOfWork(sql_engine) as uow:
        uow.outbox.add("confirmation_email", "o1", {}, 1.0)
        uow.commit()
        (message,) = uow.outbox.list()

    def claim(_: int) -> bool:
        with SqlUnitOfWork(sql_engine) as uow:
            claimed = uow.outbox.claim(message.message_id, now=10.0, lease=30.0)
            uow.commit()
            return claimed

    assert all_at_once(20, claim).count(True) == 1


def test_racing_requests_with_one_idempotency_key_create_one_order(sql_engine: Engine) -> None:
    def place(i: int) -> bool:
        with SqlUnitOfWork(sql_engine) as uow:
            try:
                uow.orders.add(an_order(f"o{i}", "alice", key="same-key"))
            except DuplicateIdempotencyKey:
                return False
            uow.commit()
            return True

    assert all_at_once(20, place).count(True) == 1
    with SqlUnitOfWork(sql_engine) as uow:
        assert len(uow.orders.list()) == 1


def test_optimistic_concurrency_loses_no_update(sql_engine: Engine) -> None:
    with SqlUnitOfWork(sql_engine) as uow:
        uow.orders.add(an_order())
        uow.commit()

    def append(i: int) -> None:
        uow = SqlUnitOfWork(sql_engine)

        def unit() -> None:
            with uow:
                order = uow.orders.get("o1")
                assert order is not None
                order.history.append(StatusChange(OrderStatus.PENDING_PAYMENT, 200.0 + i, f"t{i}"))
                uow.orders.save(order)
                uow.commit()

        retry_on_conflict(unit, attempts=1000)

    all_at_once(20, append)
    with SqlUnitOfWork(sql_engine) as uow:
        order = uow.orders.get("o1")
    assert order is not None
    assert order.version == 20
    assert sorted(c.reason for c in order.history[1:]) == sorted(f"t{i}" for i in range(20))


def _sell_one_at_a_time(url: str, attempts: int) -> int:
    """A server worker process: its own engine, selling one unit per unit of work."""
    engine = make_engine(url)
    sold = 0
    try:
        for _ in range(attempts):
            with SqlUnitOfWork(engine) as uow:
                uow.stock.get("v1", "L1")
                try:
                    uow.stock.apply([StockMove(MoveKind.SELL, "v1", "L1", 1)])
                except InsufficientInventory:
                    continue
                uow.commit()
                sold += 1
    finally:
        engine.dispose()
    return sold


def test_several_server_processes_share_one_database(sql_engine: Engine) -> None:
    """Like ``serve --workers 3``: three processes, 90 attempts at 60 units, no error."""
    with SqlUnitOfWork(sql_engine) as uow:
        receive(uow, "v1", "L1", 60)
        uow.commit()
    url = sql_engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")  # as uvicorn starts its workers
    with ProcessPoolExecutor(3, mp_context=spawn) as pool:
        sold = list(pool.map(_sell_one_at_a_time, [url] * 3, [30] * 3))
    assert sum(sold) == 60
    with SqlUnitOfWork(sql_engine) as uow:
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 0, 0, 60, 60)
