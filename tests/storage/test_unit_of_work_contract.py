"""The storage ports' contract, run against every unit of work (cosmicpython's integration tier).

Whatever the in-memory store does, SQLite and PostgreSQL must do too: the simulator and the
service tests run on the former, the server on the latter.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest

from reference_impl.domain.cart import Cart
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.errors import InsufficientInventory
from reference_impl.domain.inventory import MoveKind, StockLevel, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine
from reference_impl.domain.order_status import OrderEvent, OrderStatus
from reference_impl.domain.trace import MessageKind, TraceEvent
from reference_impl.service.ports import (
    ConcurrentUpdate,
    DuplicateIdempotencyKey,
    RecordedPaymentEvent,
    UnitOfWork,
)
from tests.storage.conftest import UowFactory

EUR = "EUR"


def variant(variant_id: str, product_id: str, price: int = 1250, **kw: object) -> Variant:
    return Variant(variant_id, product_id, f"SKU-{variant_id}", f"Variant {variant_id}",
                   Money(price, EUR), **kw)  # type: ignore[arg-type]


def an_order(
    order_id: str = "o1",
    owner_id: str = "alice",
    *,
    key: str | None = None,
    expires_at: float | None = None,
    created_at: float = 100.0,
) -> Order:
    lines = (
        OrderLine("v1", "L1", 2, Money(1250, EUR)),
        OrderLine("v2", "L2", 1, Money(990, EUR)),
    )
    return Order(
        order_id=order_id,
        owner_id=owner_id,
        cart_id=f"cart-{order_id}",
        lines=lines,
        total=Money(3490, EUR),
        created_at=created_at,
        expires_at=expires_at,
        idempotency_key=key,
        request_fingerprint="fp" if key else None,
        holds_stock=True,
    )


def receive(uow: UnitOfWork, variant_id: str, location_id: str, quantity: int) -> None:
    uow.stock.ensure(variant_id, location_id)
    uow.stock.apply([StockMove(MoveKind.RECEIVE, variant_id, location_id, quantity)])


def move(
    kind: MoveKind, quantity: int, variant_id: str = "v1", location_id: str = "L1"
) -> StockMove:
    return StockMove(kind, variant_id, location_id, quantity)


# -- round trips ----------------------------------------------------------------------


def test_catalog_round_trip(uow: UnitOfWork) -> None:
    shirt = Product("p-shirt", "Shirt", "Cotton", (variant("v-s", "p-shirt"),
                                                   variant("v-m", "p-shirt", deliverable=False)))
    mug = Product("p-mug", "Mug", "", (variant("v-mug", "p-mug", price=500),))
    bare = Product("p-bare", "Nothing yet", "no variants", ())
    with uow:
        uow.catalog.upsert_locations([Location("L2", "Annex"), Location("L1", "Main")])
        uow.catalog.upsert_products([shirt, mug, bare])
        uow.commit()
    with uow:
        assert uow.catalog.get_product("p-shirt") == shirt
        assert uow.catalog.get_product("p-bare") == bare
        assert uow.catalog.get_product("nope") is None
        assert uow.catalog.get_variant("v-m") == shirt.variants[1]
        assert uow.catalog.get_variant("nope") is None
        assert uow.catalog.list_products(0, 10) == ([bare, mug, shirt], 3)
        assert uow.catalog.list_products(1, 1) == ([mug], 3)
        assert uow.catalog.list_products(5, 10) == ([], 3)
        assert uow.catalog.get_location("L1") == Location("L1", "Main")
        assert uow.catalog.get_location("L9") is None
        assert uow.catalog.list_locations() == [Location("L1", "Main"), Location("L2", "Annex")]


def test_upserting_a_product_replaces_its_variant_list(uow: UnitOfWork) -> None:
    first = Product("p", "Shirt", "v1", (variant("a", "p"), variant("b", "p")))
    second = Product("p", "Shirt!", "v2", (variant("c", "p"), variant("a", "p", price=1)))
    with uow:
        uow.catalog.upsert_products([first])
        uow.commit()
    with uow:
        uow.catalog.upsert_products([second])
        uow.commit()
    with uow:
        assert uow.catalog.get_product("p") == second
        assert uow.catalog.get_variant("a") == second.variants[1]
        # Left out of the list, still readable by id (an old cart may point at it).
        assert uow.catalog.get_variant("b") == first.variants[1]


def test_accounts_round_trip(uow: UnitOfWork) -> None:
    with uow:
        uow.accounts.upsert([Account("alice", "a@example.com"),
                             Account("bob", "b@example.com", active=False, shop_id="s2")])
        uow.commit()
    with uow:
        uow.accounts.upsert([Account("alice", "new@example.com", active=False)])
        uow.commit()
    with uow:
        assert uow.accounts.get("alice") == Account("alice", "new@example.com", active=False)
        assert uow.accounts.get("bob") == Account("bob", "b@example.com", False, "s2")
        assert uow.accounts.get("carol") is None


def test_stock_round_trip(uow: UnitOfWork) -> None:
    with uow:
        receive(uow, "v2", "L1", 3)
        receive(uow, "v1", "L2", 4)
        receive(uow, "v1", "L1", 5)
        uow.stock.ensure("v1", "L1")  # idempotent: keeps the level
        uow.stock.ensure("v3", "L1")
        uow.commit()
    with uow:
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", on_hand=5, received=5)
        assert uow.stock.get("v1", "L9") is None
        assert [lv.key for lv in uow.stock.list()] == [
            ("v1", "L1"), ("v1", "L2"), ("v2", "L1"), ("v3", "L1"),
        ]
        assert uow.stock.list("v1") == [
            StockLevel("v1", "L1", 5, 0, 0, 5), StockLevel("v1", "L2", 4, 0, 0, 4),
        ]
        assert uow.stock.list("v3") == [StockLevel("v3", "L1")]


def test_every_move_kind(uow: UnitOfWork) -> None:
    with uow:
        receive(uow, "v1", "L1", 10)
        uow.stock.apply([move(MoveKind.RESERVE, 4), move(MoveKind.SELL, 3)])
        uow.stock.apply([move(MoveKind.COMMIT, 2), move(MoveKind.RELEASE, 1)])
        uow.stock.apply([move(MoveKind.RESTOCK, 1)])
        uow.stock.apply([])
        uow.commit()
    with uow:
        # on_hand 10-4-3+1+1, reserved 4-2-1, sold 3+2-1
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 5, 1, 4, 10)


def test_cart_round_trip_keeps_line_order(uow: UnitOfWork) -> None:
    mug, shirt = variant("v-mug", "p"), variant("v-shirt", "p", price=2000)
    with uow:
        uow.carts.add(Cart("c1", "alice", created_at=1.0, updated_at=1.0))
        uow.carts.add(Cart("anon", None, created_at=2.0, updated_at=2.0))
        uow.commit()
    with uow:
        cart = uow.carts.get("c1")
        assert cart == Cart("c1", "alice", created_at=1.0, updated_at=1.0)
        assert cart is not None
        cart.set_line(shirt, "L2", 2, available=9, now=3.0)
        cart.set_line(mug, "L1", 1, available=9, now=4.0)
        uow.carts.save(cart)
        uow.commit()
    with uow:
        assert uow.carts.get("c1") == cart
        assert list(cart.lines) == ["v-shirt", "v-mug"]
        assert uow.carts.get("anon") == Cart("anon", None, created_at=2.0, updated_at=2.0)
        assert uow.carts.get("nope") is None
        cart.set_line(shirt, "L1", 5, available=9, now=5.0)  # replaced in place
        cart.remove_line("v-mug", now=6.0)
        uow.carts.save(cart)
        uow.commit()
    with uow:
        assert uow.carts.get("c1") == cart
        cart.clear(now=7.0)
        uow.carts.save(cart)
        uow.commit()
    with uow:
        assert uow.carts.get("c1") == Cart("c1", "alice", created_at=1.0, updated_at=7.0)


def test_order_round_trip_and_queries(uow: UnitOfWork) -> None:
    first = an_order("o1", key="k1", expires_at=500.0, created_at=1.0)
    second = an_order("o2", "bob", expires_at=300.0, created_at=2.0)
    third = an_order("o3", expires_at=400.0, created_at=3.0)
    with uow:
        for order in (first, second, third):
            uow.orders.add(order)
        uow.commit()
    with uow:
        assert uow.orders.get("o1") == first
        assert uow.orders.get("nope") is None
        assert uow.orders.find_by_idempotency_key("alice", "k1") == first
        assert uow.orders.find_by_idempotency_key("bob", "k1") is None
        assert sorted(o.order_id for o in uow.orders.list()) == ["o1", "o2", "o3"]
        assert uow.orders.next_expiry() == 300.0
        assert [o.order_id for o in uow.orders.due_for_expiry(450.0, 10)] == ["o2", "o3"]
        assert [o.order_id for o in uow.orders.due_for_expiry(450.0, 1)] == ["o2"]
        assert uow.orders.due_for_expiry(450.0, 10)[1] == third
        assert uow.orders.due_for_expiry(100.0, 10) == []

        paid = uow.orders.get("o2")
        assert paid is not None
        paid.apply(OrderEvent.PAYMENT_SUCCEEDED, 250.0, "webhook evt_1")
        paid.payment_session_id, paid.payment_url = "cs_1", "https://pay/cs_1"
        uow.orders.save(paid)
        assert paid.version == 1
        paid.apply(OrderEvent.UNFULFILLABLE, 260.0, "out of stock")
        paid.holds_stock = False
        uow.orders.save(paid)  # twice in one unit: each save moves the version on
        assert paid.version == 2
        uow.commit()
    with uow:
        assert uow.orders.get("o2") == paid
        assert [c.status for c in paid.history] == [
            OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.REFUNDED,
        ]
        assert [o.order_id for o in uow.orders.list(OrderStatus.REFUNDED)] == ["o2"]
        assert sorted(o.order_id for o in uow.orders.list(OrderStatus.PENDING_PAYMENT)) == [
            "o1", "o3",
        ]
        assert uow.orders.list(OrderStatus.PAID) == []
        # Settled orders no longer expire.
        assert uow.orders.next_expiry() == 400.0
        assert [o.order_id for o in uow.orders.due_for_expiry(1000.0, 10)] == ["o3", "o1"]


def test_saving_an_order_read_in_an_earlier_unit(uow: UnitOfWork) -> None:
    with uow:
        uow.orders.add(an_order())
        uow.commit()
    with uow:
        order = uow.orders.get("o1")
    assert order is not None
    order.apply(OrderEvent.PAYMENT_FAILED, 200.0, "declined")
    order.lines = order.lines[:1]  # the store writes back the whole aggregate
    with uow:
        uow.orders.save(order)
        uow.commit()
    with uow:
        assert uow.orders.get("o1") == order


def test_an_adopted_order_is_saved_without_a_read(uow: UnitOfWork) -> None:
    """The order a unit just added, adopted by the next one, saves what changed since."""
    placed = an_order()
    with uow:
        uow.orders.add(placed)
        uow.commit()
    with uow:
        uow.orders.adopt(placed)
        placed.payment_session_id, placed.payment_url = "cs_1", "https://gateway.test/cs_1"
        placed.apply(OrderEvent.PAYMENT_SUCCEEDED, 200.0, "paid")
        uow.orders.save(placed)
        uow.commit()
    with uow:
        stored = uow.orders.get("o1")
    assert stored == placed and stored is not None
    assert [change.status for change in stored.history] == [
        OrderStatus.PENDING_PAYMENT, OrderStatus.PAID]


def test_an_adopted_order_that_changed_meanwhile_is_a_conflict(make_uow: UowFactory) -> None:
    first, second = make_uow(), make_uow()
    placed = an_order()
    with first:
        first.orders.add(placed)
        first.commit()
    with second:
        theirs = second.orders.get("o1")
        assert theirs is not None
        theirs.apply(OrderEvent.EXPIRED, 150.0, "expiry sweep")
        second.orders.save(theirs)
        second.commit()
    with first:
        first.orders.adopt(placed)
        placed.payment_session_id = "cs_1"
        with pytest.raises(ConcurrentUpdate):
            first.orders.save(placed)
    with first:
        assert first.orders.get("o1") == theirs


def test_reads_return_fresh_objects(uow: UnitOfWork) -> None:
    with uow:
        uow.orders.add(an_order())
        uow.carts.add(Cart("c1", "alice", 1.0))
        receive(uow, "v1", "L1", 5)
        uow.commit()
    with uow:
        order, cart, level = uow.orders.get("o1"), uow.carts.get("c1"), uow.stock.get("v1", "L1")
        assert order is not None and cart is not None and level is not None
        order.apply(OrderEvent.EXPIRED, 300.0, "changed but not saved")
        cart.set_line(variant("v1", "p"), "L1", 1, available=5, now=2.0)
        level.on_hand = 0
        assert uow.orders.get("o1") == an_order()
        assert uow.carts.get("c1") == Cart("c1", "alice", 1.0)
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 5, 0, 0, 5)


# -- transactions ---------------------------------------------------------------------


def write_one_of_everything(uow: UnitOfWork) -> None:
    uow.catalog.upsert_locations([Location("L1", "Main")])
    uow.catalog.upsert_products([Product("p", "P", "", (variant("v1", "p"),))])
    uow.accounts.upsert([Account("alice", "a@example.com")])
    receive(uow, "v1", "L1", 5)
    uow.carts.add(Cart("c1", "alice", 1.0))
    uow.orders.add(an_order(key="k"))
    uow.payment_events.record(RecordedPaymentEvent("evt", "o1", "succeeded", "paid", 1.0))
    uow.outbox.add("confirmation_email", "o1", {"owner_id": "alice"}, 1.0)


def assert_store_is_empty(uow: UnitOfWork) -> None:
    with uow:
        assert uow.catalog.list_products(0, 10) == ([], 0)
        assert uow.catalog.list_locations() == []
        assert uow.catalog.get_variant("v1") is None
        assert uow.accounts.get("alice") is None
        assert uow.stock.list() == []
        assert uow.carts.get("c1") is None
        assert uow.orders.list() == []
        assert uow.orders.find_by_idempotency_key("alice", "k") is None
        assert uow.payment_events.list() == []
        assert uow.outbox.list() == []


def test_leaving_without_commit_keeps_nothing(uow: UnitOfWork) -> None:
    with uow:
        write_one_of_everything(uow)
    assert_store_is_empty(uow)


def test_an_exception_rolls_back(uow: UnitOfWork) -> None:
    with pytest.raises(RuntimeError), uow:
        write_one_of_everything(uow)
        raise RuntimeError("handler failed half-way")
    assert_store_is_empty(uow)


def test_rollback_then_carry_on(uow: UnitOfWork) -> None:
    with uow:
        write_one_of_everything(uow)
        uow.rollback()
        uow.accounts.upsert([Account("bob", "b@example.com")])
        uow.commit()
        uow.accounts.upsert([Account("carol", "c@example.com")])  # after commit, not committed
    with uow:
        assert uow.accounts.get("bob") is not None
        assert uow.accounts.get("carol") is None
        assert uow.accounts.get("alice") is None
        assert uow.orders.get("o1") is None


def test_a_rolled_back_save_can_be_redone(uow: UnitOfWork) -> None:
    with uow:
        uow.orders.add(an_order())
        uow.commit()
    with uow:
        order = uow.orders.get("o1")
        assert order is not None
        order.apply(OrderEvent.PAYMENT_SUCCEEDED, 200.0, "first try")
        uow.orders.save(order)
    with uow:
        order = uow.orders.get("o1")
        assert order == an_order()
        order.apply(OrderEvent.PAYMENT_FAILED, 210.0, "second try")
        uow.orders.save(order)
        uow.commit()
    with uow:
        assert uow.orders.get("o1") == order
        assert order.version == 1


def test_reset_deletes_everything_and_keeps_the_schema(uow: UnitOfWork) -> None:
    with uow:
        write_one_of_everything(uow)
        uow.traces.record(TraceEvent("Buyer", "Orders", "create_order", "c1", 1.0))
        uow.commit()
    with uow:
        uow.reset()
        uow.commit()
    assert_store_is_empty(uow)
    with uow:
        assert uow.traces.list() == []
        write_one_of_everything(uow)
        uow.commit()
    with uow:
        assert uow.orders.get("o1") == an_order(key="k")


# -- concurrency control --------------------------------------------------------------


def test_a_stale_version_is_refused(make_uow: UowFactory) -> None:
    """Two requests read version 0; the second to save loses and must retry (I2, I4)."""
    first, second = make_uow(), make_uow()
    with first:
        first.orders.add(an_order())
        first.commit()
    with first:
        mine = first.orders.get("o1")
    with second:
        theirs = second.orders.get("o1")
    assert mine is not None and theirs is not None
    with first:
        mine.apply(OrderEvent.PAYMENT_SUCCEEDED, 200.0, "webhook")
        first.orders.save(mine)
        first.commit()
    with second:
        theirs.apply(OrderEvent.EXPIRED, 201.0, "expiry sweep")
        with pytest.raises(ConcurrentUpdate):
            second.orders.save(theirs)
    with second:
        assert second.orders.get("o1") == mine
        assert mine.version == 1


def test_saving_an_order_that_was_never_added_is_a_conflict(uow: UnitOfWork) -> None:
    with uow, pytest.raises(ConcurrentUpdate):
        uow.orders.save(an_order("ghost"))


def test_idempotency_key_is_unique_per_owner(uow: UnitOfWork) -> None:
    with uow:
        uow.orders.add(an_order("o1", "alice", key="k"))
        uow.orders.add(an_order("o2", "bob", key="k"))  # another buyer's key space
        uow.orders.add(an_order("o3", "alice"))  # no key: never a clash
        uow.orders.add(an_order("o4", "alice"))
        uow.commit()
    with uow:
        with pytest.raises(DuplicateIdempotencyKey):
            uow.orders.add(an_order("o5", "alice", key="k"))
        # The unit stays usable: the loser reads the winner's order in the same unit.
        winner = uow.orders.find_by_idempotency_key("alice", "k")
        assert winner is not None and winner.order_id == "o1"
        uow.orders.add(an_order("o6", "alice", key="k2"))
        uow.commit()
    with uow:
        assert uow.orders.get("o5") is None
        assert uow.orders.get("o6") is not None
        assert len(uow.orders.list()) == 5


def test_payment_events_are_recorded_once(make_uow: UowFactory) -> None:
    uow, other = make_uow(), make_uow()
    event = RecordedPaymentEvent("evt_1", "o1", "succeeded", "paid", 10.0)
    with uow:
        assert uow.payment_events.record(event) is True
        assert uow.payment_events.record(replace(event, verdict="again")) is False
        assert uow.payment_events.record(
            RecordedPaymentEvent("evt_2", "o2", "failed", "payment_failed", 11.0)
        ) is True
        uow.commit()
    with other:
        assert other.payment_events.record(replace(event, received_at=12.0)) is False
        assert other.payment_events.record(
            RecordedPaymentEvent("evt_3", "o1", "failed", "stale", 13.0)
        ) is True
        other.commit()
    with uow:
        assert [e.event_id for e in uow.payment_events.list()] == ["evt_1", "evt_2", "evt_3"]
        assert uow.payment_events.list("o1") == [
            event, RecordedPaymentEvent("evt_3", "o1", "failed", "stale", 13.0),
        ]


# -- stock guards ---------------------------------------------------------------------


def test_a_shortage_undoes_the_moves_of_that_call_only(uow: UnitOfWork) -> None:
    with uow:
        receive(uow, "v1", "L1", 5)
        receive(uow, "v2", "L1", 1)
        uow.commit()
    with uow:
        uow.carts.add(Cart("c1", "alice", 1.0))  # written before the failed call: kept
        uow.stock.apply([move(MoveKind.RESERVE, 1, "v2")])  # an earlier call: kept
        with pytest.raises(InsufficientInventory):
            uow.stock.apply([
                move(MoveKind.SELL, 2, "v1"),
                move(MoveKind.SELL, 1, "v2"),  # v2 has none left on hand
            ])
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 5, 0, 0, 5)
        # Usable afterwards, as on_payment's refund branch needs.
        uow.stock.apply([move(MoveKind.COMMIT, 1, "v2")])
        uow.commit()
    with uow:
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 5, 0, 0, 5)
        assert uow.stock.get("v2", "L1") == StockLevel("v2", "L1", 0, 0, 1, 1)
        assert uow.carts.get("c1") is not None


def test_moves_of_one_row_add_up_before_the_guard(uow: UnitOfWork) -> None:
    with uow:
        receive(uow, "v1", "L1", 5)
        with pytest.raises(InsufficientInventory):
            uow.stock.apply([move(MoveKind.SELL, 3), move(MoveKind.SELL, 3)])
        uow.stock.apply([move(MoveKind.SELL, 3), move(MoveKind.RESTOCK, 3), move(MoveKind.SELL, 5)])
        uow.commit()
    with uow:
        assert uow.stock.get("v1", "L1") == StockLevel("v1", "L1", 0, 0, 5, 5)


@pytest.mark.parametrize(
    "moves",
    [
        [move(MoveKind.SELL, 6)],
        [move(MoveKind.RELEASE, 1)],
        [move(MoveKind.COMMIT, 1)],
        [move(MoveKind.RESTOCK, 1)],
        [move(MoveKind.SELL, 1, location_id="nowhere")],
        [move(MoveKind.RECEIVE, 1, variant_id="unknown")],
    ],
    ids=["sell-too-many", "release", "commit", "restock", "missing-level", "receive-missing"],
)
def test_a_move_beyond_its_source_is_refused(uow: UnitOfWork, moves: list[StockMove]) -> None:
    with uow:
        receive(uow, "v1", "L1", 5)
        uow.commit()
    with uow:
        with pytest.raises(InsufficientInventory):
            uow.stock.apply(moves)
        uow.commit()
    with uow:
        assert uow.stock.list() == [StockLevel("v1", "L1", 5, 0, 0, 5)]


def test_stock_is_conserved(uow: UnitOfWork) -> None:
    """I1: received = on_hand + reserved + sold and nothing negative, whatever was refused."""
    plan = [
        [move(MoveKind.RESERVE, 3), move(MoveKind.SELL, 2, "v2")],
        [move(MoveKind.COMMIT, 2), move(MoveKind.SELL, 9, "v2")],
        [move(MoveKind.RELEASE, 1), move(MoveKind.RECEIVE, 4, "v2")],
        [move(MoveKind.RESTOCK, 3)],
        [move(MoveKind.SELL, 7, "v2"), move(MoveKind.SELL, 4)],
    ]
    with uow:
        receive(uow, "v1", "L1", 6)
        receive(uow, "v2", "L1", 3)
        for moves in plan:
            with contextlib.suppress(InsufficientInventory):
                uow.stock.apply(moves)
            for level in uow.stock.list():
                assert level.violations() == []
        uow.commit()
    with uow:
        levels = uow.stock.list()
    assert [lv.violations() for lv in levels] == [[], []]
    assert sum(lv.received for lv in levels) == 13


# -- outbox and traces ----------------------------------------------------------------


def test_outbox_pending_and_sent(uow: UnitOfWork) -> None:
    with uow:
        uow.outbox.add("confirmation_email", "o1", {"owner_id": "alice", "n": [1, 2]}, 1.0)
        uow.outbox.add("refund", "o2", {"reason": "out of stock"}, 2.0)
        uow.outbox.add("confirmation_email", "o2", {"owner_id": "bob"}, 3.0)
        uow.outbox.add("confirmation_email", "o3", {}, 4.0)
        uow.commit()
    with uow:
        pending = uow.outbox.pending("confirmation_email", 2)
        assert [(m.order_id, m.payload) for m in pending] == [
            ("o1", {"owner_id": "alice", "n": [1, 2]}), ("o2", {"owner_id": "bob"}),
        ]
        assert all(m.sent_at is None and m.attempts == 0 for m in pending)
        uow.outbox.mark_sent(pending[0].message_id, 10.0)
        uow.outbox.mark_failed(pending[1].message_id)
        uow.commit()
    with uow:
        assert [m.order_id for m in uow.outbox.pending("confirmation_email", 10)] == ["o2", "o3"]
        assert [m.order_id for m in uow.outbox.pending("refund", 10)] == ["o2"]
        sent, *_ = uow.outbox.list("o1")
        assert (sent.sent_at, sent.attempts, sent.created_at) == (10.0, 1, 1.0)
        failed = [m for m in uow.outbox.list("o2") if m.kind == "confirmation_email"]
        assert (failed[0].sent_at, failed[0].attempts) == (None, 1)
        assert [m.kind for m in uow.outbox.list("o2")] == ["refund", "confirmation_email"]
        assert len(uow.outbox.list()) == 4
        assert len({m.message_id for m in uow.outbox.list()}) == 4


def test_outbox_claims_are_leased(make_uow: UowFactory) -> None:
    """Of two sender processes, one takes a message; the other may only after the lease."""
    uow, other = make_uow(), make_uow()
    with uow:
        uow.outbox.add("confirmation_email", "o1", {}, 1.0)
        uow.commit()
    with uow:
        (message,) = uow.outbox.pending("confirmation_email", 10)
        assert uow.outbox.claim(message.message_id, now=10.0, lease=30.0) is True
        uow.commit()
    with other:
        assert other.outbox.claim(message.message_id, now=20.0, lease=30.0) is False
        (claimed,) = other.outbox.list("o1")
        assert claimed.claimed_at == 10.0
        # Still pending: claiming is not sending.
        assert [m.message_id for m in other.outbox.pending("confirmation_email", 10)] == [
            message.message_id
        ]
        assert other.outbox.claim(message.message_id, now=40.0, lease=30.0) is True  # expired
        other.outbox.mark_failed(message.message_id)
        assert other.outbox.list("o1")[0].claimed_at is None  # free again at once
        assert other.outbox.claim(message.message_id, now=41.0, lease=30.0) is True
        other.outbox.mark_sent(message.message_id, 42.0)
        assert other.outbox.claim(message.message_id, now=500.0, lease=30.0) is False  # sent
        other.commit()
    with uow:
        (sent,) = uow.outbox.list("o1")
        assert (sent.sent_at, sent.attempts, sent.claimed_at) == (42.0, 2, 41.0)


def test_traces_round_trip_in_time_order(uow: UnitOfWork) -> None:
    events = [
        TraceEvent("Buyer", "Orders", "create_order", "c1", 2.0),
        TraceEvent("Orders", "Inventory", "check_inventory", "c1", 2.0),
        TraceEvent("Inventory", "Orders", "check_inventory", "c1", 2.0, MessageKind.REPLY),
        TraceEvent("Buyer", "Cart", "add_to_cart", "c2", 1.0),
        TraceEvent("Orders", "Mail", "send_confirmation", "c1", 3.0, MessageKind.ASYNC),
    ]
    with uow:
        for event in events:
            uow.traces.record(event)
        # Readable in the unit that recorded them.
        assert uow.traces.list("c2") == [events[3]]
        uow.commit()
    with uow:
        assert uow.traces.list("c1") == [events[0], events[1], events[2], events[4]]
        assert uow.traces.list() == [events[3], events[0], events[1], events[2], events[4]]
        assert uow.traces.list("nobody") == []


def test_traces_of_several_commits_interleave_by_time_then_as_recorded(uow: UnitOfWork) -> None:
    """A correlation's events stored at different commits (a request's units, a webhook's
    later) read back as one log: by time, and in recording order where times tie."""
    first = [
        TraceEvent("Buyer", "Orders", "create_order", "c1", 2.0),
        TraceEvent("Orders", "Payments", "create_checkout_session", "c1", 5.0,
                   MessageKind.ASYNC),
    ]
    later = [
        TraceEvent("Gateway", "Payments", "payment_webhook", "c1", 2.0, MessageKind.ASYNC),
        TraceEvent("Buyer", "Cart", "add_to_cart", "c1", 1.0),
        TraceEvent("Buyer", "Cart", "add_to_cart", "c2", 2.0),
    ]
    for batch in (first, later):
        with uow:
            for event in batch:
                uow.traces.record(event)
            uow.commit()
    with uow:
        assert uow.traces.list("c1") == [later[1], first[0], later[0], first[1]]
        assert uow.traces.list() == [later[1], first[0], later[0], later[2], first[1]]
