"""Reservation expiry (policy reserve, I11), woken when the core says so."""

from __future__ import annotations

from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.policies import PaymentMode, Policies, StockCommitPoint
from reference_impl.service.expiry import expire_due, next_wakeup
from reference_impl.service.settle import REFUND
from tests.service.shop import PROFILES, Shop

TTL = PROFILES["004_reserve_stripe"].reservation_ttl
assert TTL is not None


def _at_expiry(shop: Shop, order: Order) -> None:
    assert order.expires_at is not None
    shop.now = order.expires_at


def _expire(shop: Shop) -> int:
    return expire_due(shop.uow, policies=shop.policies, now=shop.now, trace=shop.trace())


def test_nothing_to_wake_for_in_an_empty_shop(reserve_shop: Shop) -> None:
    assert next_wakeup(reserve_shop.uow) is None
    assert _expire(reserve_shop) == 0


def test_next_wakeup_is_the_earliest_pending_expiry(reserve_shop: Shop) -> None:
    shop = reserve_shop
    start = shop.now
    first = shop.checkout(("mug-red", 1))
    shop.now += 100
    second = shop.checkout(("mug-red", 1))
    assert next_wakeup(shop.uow) == start + TTL
    shop.pay(first)  # a settled order no longer needs waking
    assert next_wakeup(shop.uow) == start + 100 + TTL == second.expires_at
    shop.pay(second)
    assert next_wakeup(shop.uow) is None


def test_before_the_ttl_nothing_expires(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 2))
    before = shop.snapshot()
    _at_expiry(shop, order)
    shop.now -= 0.001
    assert _expire(shop) == 0
    assert shop.store == before


def test_at_the_ttl_the_order_is_cancelled_and_stock_released(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 2))
    assert (shop.level().on_hand, shop.level().reserved) == (3, 2)
    _at_expiry(shop, order)
    assert _expire(shop) == 1
    expired = shop.order(order.order_id)
    assert expired.status is OrderStatus.CANCELLED
    assert expired.history[-1].at == shop.now
    assert not expired.holds_stock
    assert (shop.level().on_hand, shop.level().reserved, shop.level().sold) == (5, 0, 0)
    assert shop.i1_violations() == []
    assert next_wakeup(shop.uow) is None
    assert _expire(shop) == 0  # nothing left to do


def test_only_due_orders_expire_and_settled_ones_are_left_alone(reserve_shop: Shop) -> None:
    shop = reserve_shop
    paid = shop.checkout(("mug-red", 1))
    shop.pay(paid)
    due = shop.checkout(("mug-red", 1))
    shop.now += TTL / 2
    later = shop.checkout(("mug-red", 1))
    _at_expiry(shop, due)
    assert _expire(shop) == 1
    assert shop.order(paid.order_id).status is OrderStatus.PAID
    assert shop.order(due.order_id).status is OrderStatus.CANCELLED
    assert shop.order(later.order_id).status is OrderStatus.PENDING_PAYMENT
    assert next_wakeup(shop.uow) == later.expires_at


def test_payment_after_expiry_is_refunded(reserve_shop: Shop) -> None:
    shop = reserve_shop
    order = shop.checkout(("mug-red", 1))
    _at_expiry(shop, order)
    _expire(shop)
    assert shop.webhook(shop.event(order)) == "late_success_refunded"
    assert shop.order(order.order_id).status is OrderStatus.CANCELLED
    assert [m.order_id for m in shop.outbox(REFUND)] == [order.order_id]
    assert shop.level().sold == 0


def test_at_order_expiry_restocks_what_was_sold() -> None:
    shop = Shop(PROFILES["000_at_order_hosted"])
    order = shop.checkout(("mug-red", 2))
    assert shop.level().sold == 2
    _at_expiry(shop, order)
    assert _expire(shop) == 1
    assert (shop.level().on_hand, shop.level().sold) == (5, 0)


def test_no_ttl_no_wakeup() -> None:
    shop = Shop(
        Policies(StockCommitPoint.AT_ORDER, PaymentMode.HOSTED_CHECKOUT, reservation_ttl=None)
    )
    shop.checkout(("mug-red", 1))
    assert next_wakeup(shop.uow) is None
    shop.now += 10**9
    assert _expire(shop) == 0


def test_expiry_limit_leaves_the_rest_for_the_next_wakeup(reserve_shop: Shop) -> None:
    shop = reserve_shop
    orders = [shop.checkout(("poster-a2", 1)) for _ in range(3)]
    shop.now += TTL
    assert (
        expire_due(shop.uow, policies=shop.policies, now=shop.now, trace=shop.trace(), limit=2) == 2
    )
    assert next_wakeup(shop.uow) == orders[2].expires_at <= shop.now
    assert _expire(shop) == 1


def test_an_expiry_at_time_zero_is_still_a_wakeup() -> None:
    # The caller's clock may be anywhere (SimPy's env.now, a test's); 0.0 is a time like any.
    shop = Shop(PROFILES["004_reserve_stripe"], now=-TTL)
    order = shop.checkout(("mug-red", 1))
    assert order.expires_at == 0.0
    assert next_wakeup(shop.uow) == 0.0
    shop.now = 0.0
    assert _expire(shop) == 1
