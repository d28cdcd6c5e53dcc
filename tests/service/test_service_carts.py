"""Cart handlers: seed 002's inventory check (I10) and isolation between buyers (I8)."""

from __future__ import annotations

import pytest

from reference_impl.domain.errors import (
    InsufficientInventory,
    InvalidQuantity,
    ItemsUnavailable,
    NotFound,
    UnknownVariant,
    ValidationFailed,
)
from reference_impl.service import carts
from tests.service.shop import PROFILES, Shop


@pytest.fixture
def shop() -> Shop:
    return Shop(PROFILES["002_on_payment_sync"])


def test_add_update_remove(shop: Shop) -> None:
    cart_id = shop.new_cart()
    shop.add(cart_id, "mug-red", 2, location="wh-south")
    shop.add(cart_id, "poster-a2", 1)
    shop.add(cart_id, "mug-red", 1, location="wh-south")
    cart = carts.get_cart(shop.uow, cart_id=cart_id, user_id="alice")
    assert {v: (ln.quantity, ln.location_id) for v, ln in cart.lines.items()} == {
        "mug-red": (1, "wh-south"),
        "poster-a2": (1, "wh-north"),
    }
    shop.remove(cart_id, "mug-red", user="alice")
    assert list(shop.store.carts[cart_id].lines) == ["poster-a2"]


@pytest.mark.parametrize(
    ("variant", "quantity", "location", "error"),
    [
        ("mug-red", 3, "wh-south", InsufficientInventory),  # only 2 in the south
        ("mug-red", 0, "wh-north", InvalidQuantity),
        ("mug-red", -1, "wh-north", InvalidQuantity),
        ("mug-red", 10**6, "wh-north", InvalidQuantity),
        ("no-such-variant", 1, "wh-north", UnknownVariant),
        ("mug-red", 1, "wh-nowhere", ValidationFailed),
        ("poster-a2", 1, "wh-south", InsufficientInventory),  # no stock row at all there
        ("poster-gone", 1, "wh-north", ItemsUnavailable),  # seed 002: is_deliverable
    ],
)
def test_refused_additions_change_nothing(
    shop: Shop, variant: str, quantity: int, location: str, error: type[Exception]
) -> None:
    cart_id = shop.new_cart()
    shop.add(cart_id, "mug-red", 1)
    before = shop.snapshot()
    with pytest.raises(error):
        shop.add(cart_id, variant, quantity, location=location)
    assert shop.store == before


def test_availability_is_on_hand_not_what_others_hold() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    shop.checkout(("mug-red", 4), buyer="bob")  # reserves 4 of 5
    cart_id = shop.new_cart()
    with pytest.raises(InsufficientInventory):
        shop.add(cart_id, "mug-red", 2)
    shop.add(cart_id, "mug-red", 1)


def test_another_buyers_cart_does_not_exist_for_you(shop: Shop) -> None:
    cart_id = shop.new_cart("alice")
    shop.add(cart_id, "mug-red", 1)
    before = shop.snapshot()
    for user in ("bob", None):
        with pytest.raises(NotFound):
            carts.get_cart(shop.uow, cart_id=cart_id, user_id=user)
        with pytest.raises(NotFound):
            shop.add(cart_id, "mug-red", 1, user=user)
        with pytest.raises(NotFound):
            shop.remove(cart_id, "mug-red", user=user)
    assert shop.store == before


def test_anonymous_cart_is_reached_by_its_id(shop: Shop) -> None:
    # Seed 003: "Update Cart (Session)".
    cart_id = shop.new_cart(None)
    shop.add(cart_id, "mug-red", 1, user=None)
    assert carts.get_cart(shop.uow, cart_id=cart_id, user_id="anyone").lines


def test_missing_cart_and_missing_line(shop: Shop) -> None:
    with pytest.raises(NotFound):
        carts.get_cart(shop.uow, cart_id="nope", user_id="alice")
    cart_id = shop.new_cart()
    before = shop.snapshot()
    with pytest.raises(NotFound):
        shop.remove(cart_id, "mug-red", user="alice")
    assert shop.store == before
