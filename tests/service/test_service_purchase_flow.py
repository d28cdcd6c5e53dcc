"""The whole purchase flow of each seed profile, through the service handlers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl.domain.errors import IllegalTransition, NotFound
from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus, is_valid_history
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import PaymentMode, StockCommitPoint
from reference_impl.service.settle import CONFIRMATION_EMAIL, REFUND
from tests.service.shop import PROFILES, Shop

#: (on_hand, reserved, sold) of mug-red@wh-north (5 received) with an order for 2 pending.
PENDING_STOCK = {
    StockCommitPoint.AT_ORDER: (3, 0, 2),  # seed 000: "update stock" before payment
    StockCommitPoint.RESERVE: (3, 2, 0),
    StockCommitPoint.ON_PAYMENT: (5, 0, 0),  # seed 001: decrement after payment
}


def _stock(shop: Shop) -> tuple[int, int, int]:
    level = shop.level("mug-red", "wh-north")
    return (level.on_hand, level.reserved, level.sold)


def _statuses(shop: Shop, order_id: str) -> list[OrderStatus]:
    return [change.status for change in shop.order(order_id).history]


def test_success(any_shop: Shop) -> None:
    shop = any_shop
    order = shop.checkout(("mug-red", 2), ("poster-a2", 1))
    assert order.status is OrderStatus.PENDING_PAYMENT
    assert order.total == Money(2 * 1200 + 900, "EUR")  # I6
    assert _stock(shop) == PENDING_STOCK[shop.policies.stock_commit]
    if shop.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
        assert (
            shop.order(order.order_id).payment_url
            == f"https://gateway.test/pay/cs_{order.order_id}"
        )

    shop.now += 30
    assert shop.pay(order) == "paid"

    paid = shop.order(order.order_id)
    assert paid.status is OrderStatus.PAID
    assert _statuses(shop, order.order_id) == [OrderStatus.PENDING_PAYMENT, OrderStatus.PAID]
    assert paid.history[-1].at == shop.now
    assert paid.holds_stock
    assert _stock(shop) == (3, 0, 2)
    assert shop.store.carts[order.cart_id].lines == {}  # seed 001: cart cleared after success
    (mail,) = shop.outbox(CONFIRMATION_EMAIL)
    assert mail.order_id == order.order_id
    assert mail.payload == {"owner_id": "alice", "total": {"amount": 3300, "currency": "EUR"}}
    assert shop.outbox(REFUND) == []
    assert shop.i1_violations() == []


HOSTED = [name for name, p in PROFILES.items() if p.payment_mode is PaymentMode.HOSTED_CHECKOUT]
FAILURES = [
    *[(n, PaymentOutcome.FAILED, OrderStatus.PAYMENT_FAILED, "payment_failed") for n in PROFILES],
    *[(n, PaymentOutcome.EXPIRED, OrderStatus.CANCELLED, "expired") for n in HOSTED],
]


@pytest.mark.parametrize(("profile", "outcome", "status", "verdict"), FAILURES)
def test_failure_gives_the_stock_back(
    profile: str, outcome: PaymentOutcome, status: OrderStatus, verdict: str
) -> None:
    # A synchronous charge fails but never expires; a hosted session may do either.
    shop = Shop(PROFILES[profile])
    order = shop.checkout(("mug-red", 2))
    cart_lines = dict(shop.store.carts[order.cart_id].lines)

    assert shop.pay(order, outcome) == verdict

    assert shop.order(order.order_id).status is status
    assert not shop.order(order.order_id).holds_stock
    assert _stock(shop) == (5, 0, 0)
    assert shop.store.carts[order.cart_id].lines == cart_lines  # I7: kept after a failure
    assert shop.outbox() == []
    assert shop.i1_violations() == []


@pytest.mark.parametrize("name", ["002_on_payment_sync", "003_at_order_sync"])
def test_synchronous_charge_answers_in_the_request(name: str) -> None:
    # Seeds 002 and 003: processPayment answers inside the createOrder request.
    shop = Shop(PROFILES[name])
    order = shop.checkout(("poster-a2", 3))
    assert shop.charge(order) == "paid"
    assert shop.order(order.order_id).status is OrderStatus.PAID
    assert shop.level("poster-a2").sold == 3
    assert len(shop.outbox(CONFIRMATION_EMAIL)) == 1


def test_synchronous_charge_of_a_wrong_amount_changes_nothing() -> None:
    shop = Shop(PROFILES["002_on_payment_sync"])
    order = shop.checkout(("poster-a2", 1))
    before = shop.snapshot()
    assert shop.charge(order, amount=Money(1, "EUR")) == "amount_mismatch"
    assert shop.store == before


def test_wrong_amount_by_webhook_changes_nothing(hosted_on_payment: Shop) -> None:
    shop = hosted_on_payment
    order = shop.checkout(("mug-red", 1))
    before = shop.snapshot()
    event = shop.event(order, amount=Money(order.total.amount - 1, "EUR"))
    assert shop.webhook(event) == "amount_mismatch"
    assert shop.order(order.order_id) == before.orders[order.order_id]
    assert shop.store.stock == before.stock
    assert shop.outbox() == []


@pytest.mark.parametrize(
    ("clear", "mail"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_effects_follow_the_policy_flags(clear: bool, mail: bool) -> None:
    shop = Shop(
        replace(
            PROFILES["001_on_payment_hosted"],
            clear_cart_on_payment=clear,
            send_confirmation_email=mail,
        )
    )
    order = shop.checkout(("mug-red", 1))
    shop.pay(order)
    assert (shop.store.carts[order.cart_id].lines == {}) is clear
    assert len(shop.outbox(CONFIRMATION_EMAIL)) == int(mail)


def test_buyer_cancels_a_pending_order(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 2))
    with pytest.raises(NotFound):
        shop.cancel(order.order_id, "bob")  # I8
    shop.cancel(order.order_id, "alice")
    assert shop.order(order.order_id).status is OrderStatus.CANCELLED
    assert _stock(shop) == (5, 0, 0)
    before = shop.snapshot()
    with pytest.raises(IllegalTransition):
        shop.cancel(order.order_id, "alice")
    assert shop.store == before


def test_every_history_is_a_valid_path(any_shop: Shop) -> None:
    shop = any_shop
    outcomes = [PaymentOutcome.SUCCEEDED, PaymentOutcome.FAILED, PaymentOutcome.SUCCEEDED]
    for outcome in outcomes:
        order = shop.checkout(("poster-a2", 1))
        shop.pay(order, outcome)
        shop.pay(order, PaymentOutcome.SUCCEEDED)  # late or repeated: never regresses
    for order_id in shop.store.orders:
        assert is_valid_history(_statuses(shop, order_id))
    assert shop.i1_violations() == []
