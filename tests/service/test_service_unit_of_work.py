"""``InMemoryUnitOfWork``: copies on read, a journal undone on rollback (the fake of cosmicpython).

If the fake kept a half-done change, every "changes nothing" test above would lie; so the
fake itself is tested here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Location, Product
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine
from reference_impl.domain.order_status import OrderEvent
from reference_impl.domain.trace import TraceEvent
from reference_impl.service import admin
from reference_impl.service.memory import InMemoryUnitOfWork
from reference_impl.service.ports import (
    ConcurrentUpdate,
    DuplicateIdempotencyKey,
    RecordedPaymentEvent,
)
from reference_impl.service.retry import MAX_ATTEMPTS, retry_on_conflict
from tests.service.shop import MUG, PROFILES, Shop


class Boom(Exception):
    pass


def _order(order_id: str = "o-new", key: str | None = "k-new") -> Order:
    line = OrderLine("mug-red", "wh-north", 1, Money(1200, "EUR"))
    return Order(order_id, "alice", "c", (line,), Money(1200, "EUR"), 0.0, idempotency_key=key)


def _write_everything(uow: InMemoryUnitOfWork, order_id: str) -> None:
    uow.catalog.upsert_locations([Location("wh-east", "East"), Location("wh-north", "Renamed")])
    uow.catalog.upsert_products([Product("new", "New", "", (replace(MUG, variant_id="new-v"),))])
    uow.accounts.upsert([Account("dave", "d@x.test"), Account("alice", "a@x.test", active=False)])
    uow.stock.ensure("new-v", "wh-east")
    uow.stock.apply([StockMove(MoveKind.RECEIVE, "new-v", "wh-east", 3)])
    uow.stock.apply([StockMove(MoveKind.SELL, "mug-red", "wh-north", 2)])
    uow.carts.add(Cart("cart-new", None, 0.0))
    cart = uow.carts.get("cart-new")
    assert cart is not None
    cart.clear(5.0)
    uow.carts.save(cart)
    uow.orders.add(_order())
    existing = uow.orders.get(order_id)
    assert existing is not None
    existing.apply(OrderEvent.BUYER_CANCELLED, 9.0, "test")
    uow.orders.save(existing)
    uow.payment_events.record(RecordedPaymentEvent("evt-new", order_id, "succeeded", "x", 1.0))
    uow.outbox.add("confirmation_email", order_id, {}, 1.0)
    assert uow.outbox.claim(1, 2.0, 30.0)
    uow.outbox.mark_sent(1, 2.0)
    assert uow.outbox.claim(2, 2.0, 30.0)


def _busy_shop() -> tuple[Shop, str]:
    """A shop with a paid order (its confirmation in the outbox) and a pending one."""
    shop = Shop(PROFILES["004_reserve_stripe"])
    shop.pay(shop.checkout(("mug-red", 1)))
    return shop, shop.checkout(("mug-red", 1)).order_id


def test_rollback_undoes_every_kind_of_write() -> None:
    shop, pending = _busy_shop()
    before = shop.snapshot()
    with pytest.raises(Boom), shop.uow:
        _write_everything(shop.uow, pending)
        raise Boom
    assert shop.store == before


def test_leaving_without_commit_rolls_back() -> None:
    shop, pending = _busy_shop()
    before = shop.snapshot()
    with shop.uow:
        _write_everything(shop.uow, pending)
    assert shop.store == before


def test_commit_keeps_the_writes() -> None:
    shop, pending = _busy_shop()
    with shop.uow:
        _write_everything(shop.uow, pending)
        shop.uow.commit()
    assert "o-new" in shop.store.orders
    assert shop.store.stock[("new-v", "wh-east")].on_hand == 3
    assert shop.store.outbox[0].sent_at == 2.0


def test_reads_are_copies() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    order = shop.checkout(("mug-red", 1))
    before = shop.snapshot()
    with shop.uow:
        read = shop.uow.orders.get(order.order_id)
        level = shop.uow.stock.get("mug-red", "wh-north")
        cart = shop.uow.carts.get(order.cart_id)
        assert read is not None and level is not None and cart is not None
        read.apply(OrderEvent.PAYMENT_FAILED, 1.0, "local only")
        level.on_hand = -100
        cart.clear(1.0)
    assert shop.store == before


def test_a_handler_failing_after_its_stock_moves_leaves_the_store_unchanged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = Shop(PROFILES["000_at_order_hosted"])
    cart_id = shop.cart_with(("mug-red", 2), ("poster-a2", 1))
    before = shop.snapshot()

    def failing_add(_order: Order) -> None:
        raise Boom("database went away")

    monkeypatch.setattr(shop.uow.orders, "add", failing_add)
    with pytest.raises(Boom):
        shop.place(cart_id)  # SELL moves are applied before the order insert fails
    assert shop.store == before


def test_optimistic_concurrency() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    order = shop.checkout(("mug-red", 1))
    uow_a, uow_b = InMemoryUnitOfWork(shop.store), InMemoryUnitOfWork(shop.store)
    with uow_a, uow_b:
        mine, theirs = uow_a.orders.get(order.order_id), uow_b.orders.get(order.order_id)
        assert mine is not None and theirs is not None
        theirs.apply(OrderEvent.PAYMENT_SUCCEEDED, 1.0, "b")
        uow_b.orders.save(theirs)
        uow_b.commit()
        mine.apply(OrderEvent.PAYMENT_FAILED, 1.0, "a")
        with pytest.raises(ConcurrentUpdate):
            uow_a.orders.save(mine)
    assert [c.reason for c in shop.order(order.order_id).history][-1] == "b"


def test_duplicate_idempotency_key_is_refused_by_the_store() -> None:
    uow = InMemoryUnitOfWork()
    with uow:
        uow.orders.add(_order("o1", "k"))
        with pytest.raises(DuplicateIdempotencyKey):
            uow.orders.add(replace(_order("o2", "k"), owner_id="alice"))
        uow.orders.add(replace(_order("o3", "k"), owner_id="bob"))  # keys are per buyer
        uow.commit()
    assert set(uow.store.orders) == {"o1", "o3"}


def test_payment_event_ids_are_unique() -> None:
    uow = InMemoryUnitOfWork()
    event = RecordedPaymentEvent("evt-1", "o1", "succeeded", "paid", 1.0)
    with uow:
        assert uow.payment_events.record(event)
        assert not uow.payment_events.record(replace(event, verdict="other"))
        uow.commit()
    assert uow.payment_events.list("o1") == [event]


def test_traces_are_kept_sorted_by_time() -> None:
    uow = InMemoryUnitOfWork()
    for at in (3.0, 1.0, 2.0):
        uow.traces.record(TraceEvent("A", "B", "m", "c", at))
    assert [e.at for e in uow.traces.list("c")] == [1.0, 2.0, 3.0]


def test_reset_empties_the_store_but_keeps_the_tracing_switch() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    shop.checkout(("mug-red", 1))
    shop.store.tracing = False
    admin.reset(shop.uow)
    assert shop.store.orders == {} and shop.store.stock == {} and shop.store.variants == {}
    assert shop.store.tracing is False


def test_receive_stock_adds_to_on_hand_and_received() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    admin.receive_stock(shop.uow, [("mug-red", "wh-north", 3), ("poster-a2", "wh-south", 0)])
    level = shop.level("mug-red", "wh-north")
    assert (level.on_hand, level.received) == (8, 8)
    assert shop.level("poster-a2", "wh-south").received == 0  # ensured, nothing received
    assert shop.i1_violations() == []


# --- retry_on_conflict ----------------------------------------------------------------------


def test_retry_runs_the_unit_again_after_a_conflict() -> None:
    calls: list[int] = []

    def unit() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConcurrentUpdate("o1")
        return "done"

    assert retry_on_conflict(unit) == "done"
    assert len(calls) == 3


def test_retry_gives_up_after_max_attempts() -> None:
    calls: list[int] = []

    def unit() -> None:
        calls.append(1)
        raise ConcurrentUpdate("o1")

    with pytest.raises(ConcurrentUpdate):
        retry_on_conflict(unit)
    assert len(calls) == MAX_ATTEMPTS


def test_retry_does_not_swallow_other_errors() -> None:
    calls: list[int] = []

    def unit() -> None:
        calls.append(1)
        raise Boom

    with pytest.raises(Boom):
        retry_on_conflict(unit)
    assert len(calls) == 1
