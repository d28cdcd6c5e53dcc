"""Placing and reading orders: idempotency (I9), refusals that change nothing (I10), I8."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl.domain.errors import (
    AccountInactive,
    CartEmpty,
    IdempotencyKeyReused,
    ItemsUnavailable,
    NotFound,
    PriceChanged,
)
from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus
from reference_impl.service import admin, orders
from tests.service.shop import MUG, PRODUCTS, PROFILES, Shop


def test_same_key_and_body_give_the_same_order_once(reserve_shop: Shop) -> None:
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 2))
    first = shop.place(cart_id, key="k1")
    assert first.created
    after_first = shop.snapshot()
    shop.now += 10
    replay = shop.place(cart_id, key="k1")
    assert not replay.created
    assert replay.order.order_id == first.order.order_id
    assert shop.store == after_first  # no second order, no second reservation
    assert shop.level().reserved == 2


def test_same_key_other_body_is_refused(reserve_shop: Shop) -> None:
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 1))
    shop.place(cart_id, key="k1", body={"cartId": cart_id, "note": "a"})
    before = shop.snapshot()
    with pytest.raises(IdempotencyKeyReused):
        shop.place(cart_id, key="k1", body={"cartId": cart_id, "note": "b"})
    assert shop.store == before


def test_keys_belong_to_one_buyer(reserve_shop: Shop) -> None:
    shop = reserve_shop
    alice = shop.place(shop.cart_with(("mug-red", 1)), "alice", key="k1")
    bob = shop.place(shop.cart_with(("mug-red", 1), owner="bob"), "bob", key="k1")
    assert bob.created and bob.order.order_id != alice.order.order_id


def test_same_key_without_fingerprint_replays(reserve_shop: Shop) -> None:
    # PlaceOrder with a key but no fingerprint: the replay of the same request must not be
    # refused as a reuse (the first order was stored without a fingerprint too).
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 1))
    cmd = orders.PlaceOrder(cart_id, "alice", idempotency_key="k1")
    ids = iter(["o1", "o2"])

    def place() -> orders.PlacedOrder:
        return orders.place_order(
            shop.uow,
            cmd,
            policies=shop.policies,
            now=shop.now,
            new_order_id=lambda: next(ids),
            trace=shop.trace(),
        )

    first, again = place(), place()
    assert (first.created, again.created) == (True, False)
    assert again.order.order_id == first.order.order_id == "o1"


def test_refusals_change_nothing() -> None:
    shop = Shop(PROFILES["000_at_order_hosted"])
    cases = [
        (shop.cart_with(("mug-red", 1)), "bob", NotFound),  # I8: alice's cart
        ("no-such-cart", "alice", NotFound),
        (shop.cart_with(owner="alice"), "alice", CartEmpty),
        (shop.cart_with(("mug-red", 1), owner="carol"), "carol", AccountInactive),
    ]
    before = shop.snapshot()
    for cart_id, buyer, error in cases:
        with pytest.raises(error):
            shop.place(cart_id, buyer)
        assert shop.store == before


def test_price_changed_after_add_is_refused_and_changes_nothing(reserve_shop: Shop) -> None:
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 1))
    dearer = replace(MUG, price=Money(1300, "EUR"))
    admin.load_catalog(shop.uow, products=[replace(PRODUCTS[0], variants=(dearer,))], locations=[])
    before = shop.snapshot()
    with pytest.raises(PriceChanged):
        shop.place(cart_id)
    assert shop.store == before


def test_expected_total_mismatch_is_price_changed(reserve_shop: Shop) -> None:
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 2))
    with pytest.raises(PriceChanged):
        shop.place(cart_id, expected_total=Money(1, "EUR"))
    assert shop.place(cart_id, expected_total=Money(2400, "EUR")).created


def test_stock_gone_since_add_is_items_unavailable(reserve_shop: Shop) -> None:
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 5))
    shop.checkout(("mug-red", 1), buyer="bob")
    before = shop.snapshot()
    with pytest.raises(ItemsUnavailable):
        shop.place(cart_id)
    assert shop.store == before


def test_lost_race_for_the_last_units_is_items_unavailable(
    reserve_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The availability check passed, then another request took the units before the move.
    shop = reserve_shop
    cart_id = shop.cart_with(("mug-red", 5))
    real_get = shop.uow.stock.get
    monkeypatch.setattr(shop.uow.stock, "get", lambda v, loc: replace(real_get(v, loc), on_hand=99))
    shop.store.stock[("mug-red", "wh-north")].on_hand = 1
    shop.store.stock[("mug-red", "wh-north")].received = 1
    before = shop.snapshot()
    with pytest.raises(ItemsUnavailable):
        shop.place(cart_id)
    assert shop.store == before


def test_order_is_readable_by_its_owner_only(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 1))
    assert orders.get_order(shop.uow, order_id=order.order_id, user_id="alice") == shop.order(
        order.order_id
    )
    for user in ("bob", ""):
        with pytest.raises(NotFound):
            orders.get_order(shop.uow, order_id=order.order_id, user_id=user)
    with pytest.raises(NotFound):
        orders.get_order(shop.uow, order_id="nope", user_id="alice")


def test_attach_payment_session_is_idempotent(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 1))  # attaches cs_<id>
    version = shop.order(order.order_id).version
    again = orders.attach_payment_session(
        shop.uow,
        order_id=order.order_id,
        session_id=f"cs_{order.order_id}",
        url="https://elsewhere.test",
        trace=shop.trace(),
    )
    assert again.payment_url == f"https://gateway.test/pay/cs_{order.order_id}"
    assert shop.order(order.order_id).version == version


def test_a_session_attached_to_an_order_changed_meanwhile_reads_it_again(
    reserve_shop: Shop,
) -> None:
    """The caller's copy of the order is stale (cancelled since): the attach re-reads it
    instead of writing the stale status back, and answers with the order as it is."""
    shop = reserve_shop
    placed = orders.place_order(
        shop.uow, orders.PlaceOrder(cart_id=shop.cart_with(("mug-red", 1)), buyer_id="alice"),
        policies=shop.policies, now=shop.now, new_order_id=lambda: "ord-stale",
        trace=shop.trace(),
    ).order
    orders.cancel_order(shop.uow, order_id="ord-stale", user_id="alice",
                        policies=shop.policies, now=shop.now, trace=shop.trace())
    attached = orders.attach_payment_session(
        shop.uow, order_id="ord-stale", session_id="cs_late", url="https://gateway.test/late",
        trace=shop.trace(), placed=placed,
    )
    stored = shop.order("ord-stale")
    assert attached == stored
    assert stored.status is OrderStatus.CANCELLED and stored.payment_session_id == "cs_late"
