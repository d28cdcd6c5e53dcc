"""Placing an order from a cart (seeds 000, 001, 002, 004; I6, I8, I9, I10)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from reference_impl.domain.cart import Cart, CartLine
from reference_impl.domain.catalog import Account, Variant
from reference_impl.domain.checkout import (
    PlacedOrder,
    check_idempotent_replay,
    place_order,
    request_fingerprint,
)
from reference_impl.domain.errors import (
    AccountInactive,
    CartEmpty,
    IdempotencyKeyReused,
    ItemsUnavailable,
    NotFound,
    PriceChanged,
    ValidationFailed,
)
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.policies import Policies, StockCommitPoint

MUG = Variant("mug", "p-mug", "MUG", "Mug", Money(1250, "EUR"))
TEE = Variant("tee", "p-tee", "TEE", "T-shirt", Money(1999, "EUR"))
CATALOG = {v.variant_id: v for v in (MUG, TEE)}
ALICE = Account("alice", "alice@example.test")
NOW = 1_000.0


def _cart(*lines: tuple[Variant, int], owner: str | None = "alice") -> Cart:
    cart = Cart("c1", owner, created_at=0.0)
    for variant, quantity in lines:
        cart.lines[variant.variant_id] = CartLine(
            variant.variant_id, "loc1", quantity, variant.price
        )
    return cart


def _place(
    cart: Cart,
    *,
    buyer: str = "alice",
    account: Account | None = ALICE,
    catalog: dict[str, Variant] | None = None,
    stock: int | Callable[[str, str], int] = 100,
    policies: Policies | None = None,
    **kwargs: Any,
) -> PlacedOrder:
    cat = CATALOG if catalog is None else catalog
    available = stock if callable(stock) else (lambda _v, _l: stock)
    return place_order(
        order_id="o1",
        cart=cart,
        buyer_id=buyer,
        account=account,
        variant_of=cat.get,
        available=available,
        policies=policies or Policies(),
        now=NOW,
        **kwargs,
    )


def test_order_lines_and_total_are_priced_at_checkout() -> None:
    placed = _place(_cart((MUG, 2), (TEE, 3)))
    order = placed.order
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.owner_id == "alice" and order.cart_id == "c1" and order.created_at == NOW
    assert [(ln.variant_id, ln.quantity, ln.unit_price) for ln in order.lines] == [
        ("mug", 2, MUG.price),
        ("tee", 3, TEE.price),
    ]
    assert order.total == Money(2 * 1250 + 3 * 1999, "EUR")  # I6


def test_cart_not_visible_to_another_buyer() -> None:
    with pytest.raises(NotFound):
        _place(_cart((MUG, 1), owner="bob"))


def test_anonymous_cart_may_be_ordered_by_a_signed_in_buyer() -> None:
    assert _place(_cart((MUG, 1), owner=None)).order.owner_id == "alice"


@pytest.mark.parametrize("account", [None, replace(ALICE, active=False)])
def test_inactive_or_missing_account_is_refused_when_checked(account: Account | None) -> None:
    with pytest.raises(AccountInactive):
        _place(_cart((MUG, 1)), account=account, policies=Policies(check_account=True))


@pytest.mark.parametrize("account", [None, replace(ALICE, active=False)])
def test_account_is_ignored_when_not_checked(account: Account | None) -> None:
    placed = _place(_cart((MUG, 1)), account=account, policies=Policies(check_account=False))
    assert placed.order.total == MUG.price


def test_empty_cart() -> None:
    with pytest.raises(CartEmpty):
        _place(_cart())


def test_unknown_variant_is_items_unavailable() -> None:
    with pytest.raises(ItemsUnavailable, match="mug"):
        _place(_cart((MUG, 1), (TEE, 1)), catalog={"tee": TEE})


def test_undeliverable_variant_is_items_unavailable() -> None:
    with pytest.raises(ItemsUnavailable, match="mug"):
        _place(_cart((MUG, 1)), catalog={"mug": replace(MUG, deliverable=False)})


@pytest.mark.parametrize("commit", list(StockCommitPoint))
def test_insufficient_availability_is_items_unavailable(commit: StockCommitPoint) -> None:
    # Seed 001 checks availability at checkout for every commit point, on_payment included.
    def stock(variant_id: str, _loc: str) -> int:
        return {"mug": 1, "tee": 100}[variant_id]

    with pytest.raises(ItemsUnavailable, match="mug"):
        _place(_cart((MUG, 2), (TEE, 1)), stock=stock, policies=Policies(stock_commit=commit))


def test_exactly_the_available_quantity_is_accepted() -> None:
    assert _place(_cart((MUG, 3)), stock=3).order.lines[0].quantity == 3


def test_price_changed_since_added() -> None:
    dearer = {"mug": replace(MUG, price=Money(1300, "EUR")), "tee": TEE}
    with pytest.raises(PriceChanged, match="mug"):
        _place(_cart((MUG, 1), (TEE, 1)), catalog=dearer)


def test_unavailable_wins_over_price_changed() -> None:
    dearer = {"mug": replace(MUG, price=Money(1300, "EUR"))}
    with pytest.raises(ItemsUnavailable):
        _place(_cart((MUG, 1), (TEE, 1)), catalog=dearer)


def test_expected_total_matching_is_accepted() -> None:
    placed = _place(_cart((MUG, 2)), expected_total=Money(2500, "EUR"))
    assert placed.order.total == Money(2500, "EUR")


@pytest.mark.parametrize("expected", [Money(2499, "EUR"), Money(2500, "USD")])
def test_expected_total_mismatch_is_price_changed(expected: Money) -> None:
    with pytest.raises(PriceChanged):
        _place(_cart((MUG, 2)), expected_total=expected)


def test_mixed_currency_is_refused() -> None:
    dollar_tee = replace(TEE, price=Money(1999, "USD"))
    with pytest.raises(ValidationFailed):
        _place(_cart((MUG, 1), (dollar_tee, 1)), catalog={"mug": MUG, "tee": dollar_tee})


@pytest.mark.parametrize(
    ("commit", "kind"),
    [
        (StockCommitPoint.AT_ORDER, MoveKind.SELL),  # seed 000: update stock before payment
        (StockCommitPoint.RESERVE, MoveKind.RESERVE),
    ],
)
def test_moves_per_commit_point(commit: StockCommitPoint, kind: MoveKind) -> None:
    placed = _place(_cart((MUG, 2), (TEE, 1)), policies=Policies(stock_commit=commit))
    assert placed.moves == (
        StockMove(kind, "mug", "loc1", 2),
        StockMove(kind, "tee", "loc1", 1),
    )
    assert placed.order.holds_stock


def test_on_payment_moves_nothing_at_order() -> None:
    # Seed 001: "Decrement stock" only after "Payment Successful".
    placed = _place(_cart((MUG, 2)), policies=Policies(stock_commit=StockCommitPoint.ON_PAYMENT))
    assert placed.moves == ()
    assert not placed.order.holds_stock


def test_expires_at_from_the_ttl() -> None:
    placed = _place(_cart((MUG, 1)), policies=Policies(reservation_ttl=600.0))
    assert placed.order.expires_at == NOW + 600.0


def test_no_ttl_never_expires() -> None:
    policies = Policies(stock_commit=StockCommitPoint.AT_ORDER, reservation_ttl=None)
    assert _place(_cart((MUG, 1)), policies=policies).order.expires_at is None


def test_idempotency_key_and_fingerprint_are_kept() -> None:
    placed = _place(_cart((MUG, 1)), idempotency_key="k1", fingerprint="f1")
    assert (placed.order.idempotency_key, placed.order.request_fingerprint) == ("k1", "f1")


def test_a_refused_checkout_leaves_the_cart_alone() -> None:
    cart = _cart((MUG, 2))
    before = dict(cart.lines)
    with pytest.raises(ItemsUnavailable):
        _place(cart, stock=1)
    assert cart.lines == before


# --- idempotency fingerprints (I9) ----------------------------------------------------------


def test_same_body_same_fingerprint_whatever_the_key_order() -> None:
    a = request_fingerprint("alice", {"cartId": "c1", "expectedTotal": {"amount": 1, "c": "E"}})
    b = request_fingerprint("alice", {"expectedTotal": {"c": "E", "amount": 1}, "cartId": "c1"})
    assert a == b


def test_other_body_or_other_buyer_other_fingerprint() -> None:
    base = request_fingerprint("alice", {"cartId": "c1"})
    assert base != request_fingerprint("alice", {"cartId": "c2"})
    assert base != request_fingerprint("bob", {"cartId": "c1"})


def test_replay_with_same_fingerprint_returns_the_order() -> None:
    order = _place(_cart((MUG, 1)), idempotency_key="k1", fingerprint="f1").order
    assert check_idempotent_replay(order, "f1") is order


def test_replay_with_other_fingerprint_is_refused() -> None:
    order = _place(_cart((MUG, 1)), idempotency_key="k1", fingerprint="f1").order
    with pytest.raises(IdempotencyKeyReused):
        check_idempotent_replay(order, "f2")


def test_replay_without_fingerprint_matches_an_order_placed_without_one() -> None:
    order = _place(_cart((MUG, 1)), idempotency_key="k1").order
    assert check_idempotent_replay(order, None) is order
    with pytest.raises(IdempotencyKeyReused):
        check_idempotent_replay(order, "f1")
