"""The payment webhook: idempotent by event id (I3), safe out of order (I4), no oversell (I1)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl.domain.errors import ItemsUnavailable
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.service.payments import DUPLICATE, UNKNOWN_ORDER
from reference_impl.service.settle import CONFIRMATION_EMAIL, REFUND
from tests.service.shop import PROFILES, Shop

HOSTED = ["000_at_order_hosted", "001_on_payment_hosted", "004_reserve_stripe"]


@pytest.mark.parametrize("profile", HOSTED)
@pytest.mark.parametrize("outcome", list(PaymentOutcome))
def test_duplicate_event_id_changes_nothing(profile: str, outcome: PaymentOutcome) -> None:
    shop = Shop(PROFILES[profile])
    order = shop.checkout(("mug-red", 1))
    event = shop.event(order, outcome)
    first = shop.webhook(event)
    assert first != DUPLICATE
    after_first = shop.snapshot()
    for _ in range(3):
        shop.now += 5
        assert shop.webhook(event) == DUPLICATE
    assert shop.store == after_first
    assert len(shop.outbox(CONFIRMATION_EMAIL)) == (1 if outcome is PaymentOutcome.SUCCEEDED else 0)
    (recorded,) = shop.store.payment_events.values()
    assert (recorded.event_id, recorded.verdict) == (event.event_id, first)


def test_a_second_success_with_another_id_is_stale(hosted_on_payment: Shop) -> None:
    shop = hosted_on_payment
    order = shop.checkout(("mug-red", 1))
    assert shop.webhook(shop.event(order)) == "paid"
    before = shop.store.orders[order.order_id], dict(shop.store.stock)
    assert shop.webhook(shop.event(order)) == "stale"
    assert (shop.store.orders[order.order_id], shop.store.stock) == before
    assert len(shop.outbox(CONFIRMATION_EMAIL)) == 1  # I7: exactly once
    assert shop.level().sold == 1


@pytest.mark.parametrize("late", [PaymentOutcome.FAILED, PaymentOutcome.EXPIRED])
@pytest.mark.parametrize("profile", HOSTED)
def test_failure_after_success_never_regresses(profile: str, late: PaymentOutcome) -> None:
    shop = Shop(PROFILES[profile])
    order = shop.checkout(("mug-red", 2))
    success, failure = shop.event(order), shop.event(order, late)
    assert shop.webhook(success) == "paid"
    shop.now += 60
    assert shop.webhook(failure) == "stale"
    assert shop.order(order.order_id).status is OrderStatus.PAID
    assert (shop.level().on_hand, shop.level().sold) == (3, 2)
    assert shop.outbox(REFUND) == []


@pytest.mark.parametrize("first", [PaymentOutcome.FAILED, PaymentOutcome.EXPIRED])
@pytest.mark.parametrize("profile", HOSTED)
def test_success_after_failure_is_refunded_and_keeps_the_status(
    profile: str, first: PaymentOutcome
) -> None:
    shop = Shop(PROFILES[profile])
    order = shop.checkout(("mug-red", 2))
    shop.webhook(shop.event(order, first))
    dead = shop.order(order.order_id).status
    stock = (shop.level().on_hand, shop.level().reserved, shop.level().sold)

    assert shop.webhook(shop.event(order)) == "late_success_refunded"

    assert shop.order(order.order_id).status is dead
    assert (shop.level().on_hand, shop.level().reserved, shop.level().sold) == stock == (5, 0, 0)
    (refund,) = shop.outbox(REFUND)
    assert refund.order_id == order.order_id
    assert shop.outbox(CONFIRMATION_EMAIL) == []
    assert shop.store.carts[order.cart_id].lines != {}  # I7: not cleared for a dead order


def test_unknown_order_is_acknowledged_and_not_recorded(hosted_on_payment: Shop) -> None:
    shop = hosted_on_payment
    order = shop.checkout(("mug-red", 1))
    ghost = replace(shop.event(order), event_id="evt-ghost", order_id="no-such-order")
    before = shop.snapshot()
    assert shop.webhook(ghost) == UNKNOWN_ORDER
    assert shop.store == before


def test_on_payment_oversell_second_payer_is_refunded() -> None:
    """Seed 001's "check at checkout, decrement after payment" with one unit and two buyers."""
    shop = Shop(PROFILES["001_on_payment_hosted"], stock=(("mug-red", "wh-north", 1),))
    alice = shop.checkout(("mug-red", 1), buyer="alice")
    bob = shop.checkout(("mug-red", 1), buyer="bob")  # passes: nothing is taken before payment
    assert shop.level().on_hand == 1

    assert shop.webhook(shop.event(alice)) == "paid"
    assert shop.webhook(shop.event(bob)) == "refunded_out_of_stock"

    assert shop.order(alice.order_id).status is OrderStatus.PAID
    bob_order = shop.order(bob.order_id)
    assert bob_order.status is OrderStatus.REFUNDED
    assert [c.status for c in bob_order.history] == [
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.REFUNDED,
    ]
    assert not bob_order.holds_stock
    level = shop.level()
    assert (level.on_hand, level.reserved, level.sold, level.received) == (0, 0, 1, 1)
    assert shop.i1_violations() == []
    assert [m.order_id for m in shop.outbox(CONFIRMATION_EMAIL)] == [alice.order_id]
    assert [m.order_id for m in shop.outbox(REFUND)] == [bob.order_id]
    assert shop.store.carts[bob.cart_id].lines != {}  # refunded: the cart is kept


@pytest.mark.parametrize("profile", ["000_at_order_hosted", "004_reserve_stripe"])
def test_committing_profiles_refuse_the_second_order_instead(profile: str) -> None:
    shop = Shop(PROFILES[profile], stock=(("mug-red", "wh-north", 1),))
    cart_bob = shop.cart_with(("mug-red", 1), owner="bob")  # added while one is on hand
    shop.checkout(("mug-red", 1), buyer="alice")
    before = shop.snapshot()
    with pytest.raises(ItemsUnavailable):
        shop.place(cart_bob, "bob")
    assert shop.store == before
    assert shop.i1_violations() == []


def test_a_webhook_that_fails_half_way_is_not_recorded_and_can_be_redelivered(
    hosted_on_payment: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = hosted_on_payment
    order = shop.checkout(("mug-red", 2))
    event = shop.event(order)
    before = shop.snapshot()

    def broken_outbox(*_args: object) -> None:
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(shop.uow.outbox, "add", broken_outbox)
        with pytest.raises(RuntimeError):
            shop.webhook(event)
    # Status, stock, cart and the event id all rolled back: the gateway's retry will work.
    assert shop.store == before
    assert shop.webhook(event) == "paid"
    assert shop.level().sold == 2
