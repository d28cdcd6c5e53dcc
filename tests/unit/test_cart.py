"""The Cart aggregate: seed 002's add-to-cart checks, and I8 visibility."""

from __future__ import annotations

import pytest

from reference_impl.domain.cart import MAX_LINE_QUANTITY, MAX_LINES, Cart, CartLine
from reference_impl.domain.catalog import Variant
from reference_impl.domain.errors import (
    InsufficientInventory,
    InvalidQuantity,
    ItemsUnavailable,
    NotFound,
)
from reference_impl.domain.money import Money

MUG = Variant("mug-red", "mug", "MUG-R", "Red mug", Money(1200, "EUR"))
CRATE = Variant("crate", "crate", "CR-1", "Crate", Money(5000, "EUR"), deliverable=False)


def _cart(owner: str | None = "alice") -> Cart:
    return Cart(cart_id="c1", owner_id=owner, created_at=0.0)


def _state(cart: Cart) -> tuple[dict[str, CartLine], float]:
    return dict(cart.lines), cart.updated_at


def test_add_line_records_location_and_price() -> None:
    cart = _cart()
    line = cart.set_line(MUG, "loc1", 2, available=5, now=3.0)
    assert line == CartLine("mug-red", "loc1", 2, Money(1200, "EUR"))
    assert cart.lines == {"mug-red": line}
    assert cart.updated_at == 3.0


def test_set_line_replaces_the_quantity_and_location() -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 2, available=5, now=1.0)
    cart.set_line(MUG, "loc2", 4, available=4, now=2.0)
    assert cart.lines["mug-red"].quantity == 4
    assert cart.lines["mug-red"].location_id == "loc2"
    assert len(cart.lines) == 1


def test_quantity_bounds_inclusive() -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=MAX_LINE_QUANTITY, now=1.0)
    cart.set_line(MUG, "loc1", MAX_LINE_QUANTITY, available=MAX_LINE_QUANTITY, now=1.0)
    assert cart.lines["mug-red"].quantity == MAX_LINE_QUANTITY


@pytest.mark.parametrize(
    "quantity", [0, -1, MAX_LINE_QUANTITY + 1, 10**18, True, False, 1.0, 2.5, "2", None]
)
def test_bad_quantity_is_refused_and_changes_nothing(quantity: object) -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=10**19, now=1.0)
    before = _state(cart)
    with pytest.raises(InvalidQuantity):
        cart.set_line(MUG, "loc1", quantity, available=10**19, now=2.0)  # type: ignore[arg-type]
    assert _state(cart) == before


@pytest.mark.parametrize("available", [0, 2, -3])
def test_insufficient_inventory_changes_nothing(available: int) -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=5, now=1.0)
    before = _state(cart)
    with pytest.raises(InsufficientInventory) as raised:
        cart.set_line(MUG, "loc1", 3, available=available, now=2.0)
    assert _state(cart) == before
    assert f"only {max(available, 0)} " in raised.value.detail


def test_undeliverable_variant_is_refused() -> None:
    cart = _cart()
    with pytest.raises(ItemsUnavailable):
        cart.set_line(CRATE, "loc1", 1, available=10, now=1.0)
    assert cart.lines == {}


def test_line_count_is_bounded_but_existing_lines_may_change() -> None:
    cart = _cart()
    for i in range(MAX_LINES):
        variant = Variant(f"v{i}", "p", f"S{i}", "n", Money(1, "EUR"))
        cart.set_line(variant, "loc1", 1, available=1, now=1.0)
    extra = Variant("one-too-many", "p", "X", "n", Money(1, "EUR"))
    with pytest.raises(InvalidQuantity):
        cart.set_line(extra, "loc1", 1, available=1, now=2.0)
    first = Variant("v0", "p", "S0", "n", Money(1, "EUR"))
    cart.set_line(first, "loc1", 1, available=1, now=3.0)
    assert len(cart.lines) == MAX_LINES


def test_remove_line() -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=1, now=1.0)
    cart.remove_line("mug-red", now=2.0)
    assert cart.lines == {}
    assert cart.updated_at == 2.0


def test_remove_missing_line_raises_and_changes_nothing() -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=1, now=1.0)
    before = _state(cart)
    with pytest.raises(NotFound):
        cart.remove_line("no-such-variant", now=2.0)
    assert _state(cart) == before


def test_clear() -> None:
    cart = _cart()
    cart.set_line(MUG, "loc1", 1, available=1, now=1.0)
    cart.clear(now=9.0)
    assert (cart.lines, cart.updated_at) == ({}, 9.0)


def test_owned_cart_is_visible_to_its_owner_only() -> None:
    cart = _cart("alice")
    assert cart.visible_to("alice")
    assert not cart.visible_to("bob")
    assert not cart.visible_to(None)  # an anonymous caller does not see an owned cart


def test_anonymous_cart_is_visible_by_its_id() -> None:
    # Seed 003: the cart lives in the session; knowing its id is the key.
    cart = _cart(None)
    assert cart.visible_to(None)
    assert cart.visible_to("alice")
