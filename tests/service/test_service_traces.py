"""The actor-to-actor trace the handlers record (DESIGN.md section 7).

Handlers record into the caller's ``TraceRecorder``, not the unit of work, so the messages of
a refused request (seed 002's "insufficient inventory" branch) survive its rollback.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from reference_impl.domain.errors import InsufficientInventory, UnknownVariant
from reference_impl.domain.order import Order
from reference_impl.domain.trace import Actor, MessageKind, Msg, TraceEvent
from reference_impl.service import orders
from reference_impl.service.ports import ConcurrentUpdate
from reference_impl.service.tracing import Trace, no_trace
from tests.service.shop import PROFILES, Shop

B, CART, CAT, INV = Actor.BUYER, Actor.CART, Actor.CATALOG, Actor.INVENTORY
ORD, ACC, DB, PAY = Actor.ORDERS, Actor.ACCOUNTS, Actor.DATABASE, Actor.PAYMENTS
GW, MAIL = Actor.GATEWAY, Actor.MAIL
SYNC, ASYNC, REPLY = MessageKind.SYNC, MessageKind.ASYNC, MessageKind.REPLY

Step = tuple[str, str, str, MessageKind]


def _call(source: Actor, target: Actor, message: Msg) -> list[Step]:
    return [(source, target, message, SYNC), (target, source, message, REPLY)]


#: Seed 002: addOrUpdateItem -> getProductVariant -> checkInventory.
ADD_TO_CART_HEAD: list[Step] = [
    (B, CART, Msg.ADD_TO_CART, SYNC),
    *_call(CART, CAT, Msg.GET_VARIANT),
    *_call(CART, INV, Msg.CHECK_INVENTORY),
]


def _steps(events: list[TraceEvent]) -> list[Step]:
    return [(e.source, e.target, e.message, e.kind) for e in events]


def test_add_to_cart_records_the_seed_002_messages() -> None:
    shop = Shop(PROFILES["002_on_payment_sync"])
    cart_id = shop.new_cart()
    shop.recorder.clear()
    shop.now = 42.0
    shop.add(cart_id, "mug-red", 2)
    assert _steps(shop.recorder.events) == [*ADD_TO_CART_HEAD, (CART, B, Msg.ADD_TO_CART, REPLY)]
    assert {e.correlation_id for e in shop.recorder.events} == {cart_id}
    assert {e.at for e in shop.recorder.events} == {42.0}


def test_refused_add_to_cart_is_still_recorded() -> None:
    # Seed 002, "alt insufficient inventory": the request failed, its messages are kept.
    shop = Shop(PROFILES["002_on_payment_sync"])
    cart_id = shop.new_cart()
    shop.recorder.clear()
    with pytest.raises(InsufficientInventory):
        shop.add(cart_id, "mug-red", 6)
    # The refusal is the reply, named after its error code (scenarios/messages.py).
    assert _steps(shop.recorder.events) == [
        *ADD_TO_CART_HEAD, (CART, B, "insufficient_inventory", REPLY)
    ]
    assert shop.recorder.for_correlation(cart_id) == shop.recorder.events


def test_unknown_variant_stops_after_the_catalog() -> None:
    shop = Shop(PROFILES["002_on_payment_sync"])
    cart_id = shop.new_cart()
    shop.recorder.clear()
    with pytest.raises(UnknownVariant):
        shop.add(cart_id, "no-such-variant", 1)
    assert _steps(shop.recorder.events) == [
        *ADD_TO_CART_HEAD[:3], (CART, B, "unknown_variant", REPLY)
    ]


def test_place_order_with_reserve_and_account_check() -> None:
    shop = Shop(PROFILES["004_reserve_stripe"])
    cart_id = shop.cart_with(("mug-red", 1))
    shop.recorder.clear()
    shop.place(cart_id)
    assert _steps(shop.recorder.events) == [
        (B, ORD, Msg.CREATE_ORDER, SYNC),
        *_call(ORD, CART, Msg.GET_CART),
        *_call(ORD, ACC, Msg.CHECK_ACCOUNT),  # seed 000: fetch if active
        *_call(ORD, INV, Msg.CHECK_INVENTORY),
        (ORD, DB, Msg.SAVE_ORDER, SYNC),  # seed 001: "Pending Payment"; no reply drawn
        *_call(ORD, INV, Msg.RESERVE_STOCK),  # last: the stock row stays locked the least
    ]


def test_place_order_on_payment_without_account_check_moves_no_stock() -> None:
    shop = Shop(replace(PROFILES["002_on_payment_sync"], check_account=False))
    cart_id = shop.cart_with(("mug-red", 1))
    shop.recorder.clear()
    shop.place(cart_id)
    messages = [e.message for e in shop.recorder.events]
    assert Msg.CHECK_ACCOUNT not in messages
    assert Msg.SELL_STOCK not in messages and Msg.RESERVE_STOCK not in messages
    assert messages[-1] == Msg.SAVE_ORDER and messages.count(Msg.SAVE_ORDER) == 1


def test_webhook_success_on_payment_records_seed_001_steps() -> None:
    shop = Shop(PROFILES["001_on_payment_hosted"])
    order = shop.checkout(("mug-red", 1))
    shop.recorder.clear()
    shop.webhook(shop.event(order))
    assert _steps(shop.recorder.events) == [
        (GW, PAY, Msg.PAYMENT_WEBHOOK, SYNC),
        (PAY, ORD, Msg.UPDATE_ORDER_STATUS, SYNC),
        *_call(ORD, INV, Msg.SELL_STOCK),  # "Decrement stock for ordered items"
        (ORD, DB, Msg.UPDATE_ORDER_STATUS, SYNC),
        *_call(ORD, CART, Msg.CLEAR_CART),  # "Clear user's cart"
        (ORD, MAIL, Msg.SEND_CONFIRMATION, ASYNC),
        (PAY, GW, Msg.PAYMENT_WEBHOOK, REPLY),  # "200 OK"
    ]
    assert {e.correlation_id for e in shop.recorder.events} == {order.cart_id}


def test_a_webhook_retried_after_a_lost_race_is_recorded_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first attempt loses an optimistic-concurrency race and rolls back; its messages
    # are taken back, so the trace is the committed attempt's, not both.
    shop = Shop(PROFILES["001_on_payment_hosted"])
    order = shop.checkout(("mug-red", 1))
    shop.recorder.clear()
    save, lost = shop.uow.orders.save, []

    def save_after_losing_once(changed: Order) -> None:
        if not lost:
            lost.append(changed.order_id)
            raise ConcurrentUpdate(changed.order_id)
        save(changed)

    monkeypatch.setattr(shop.uow.orders, "save", save_after_losing_once)
    shop.webhook(shop.event(order))
    assert lost == [order.order_id]
    messages = [e.message for e in shop.recorder.events]
    assert messages.count(Msg.PAYMENT_WEBHOOK) == 2  # the webhook and its acknowledgement
    assert messages.count(Msg.SELL_STOCK) == 2  # the call and its answer
    assert messages.count(Msg.SEND_CONFIRMATION) == 1


def test_synchronous_charge_records_seed_002_process_payment() -> None:
    seed_002 = replace(PROFILES["002_on_payment_sync"], clear_cart_on_payment=False,
                       send_confirmation_email=False)
    shop = Shop(seed_002)
    order = shop.place(shop.cart_with(("mug-red", 1))).order
    shop.recorder.clear()
    # What the server and the simulator do around their gateway call.
    asked = orders.charge_requested(shop.trace(), order)
    asked.reply(GW, PAY, Msg.CHARGE)
    shop.charge(order)
    assert _steps(shop.recorder.events) == [
        (ORD, PAY, Msg.CHARGE, SYNC),  # processPayment(paymentDetails, orderDetails)
        (PAY, GW, Msg.CHARGE, SYNC),
        (GW, PAY, Msg.CHARGE, REPLY),
        (PAY, ORD, Msg.CHARGE, REPLY),  # Payment Result (Success/Failure)
        *_call(ORD, INV, Msg.SELL_STOCK),  # updateInventory
        (ORD, DB, Msg.UPDATE_ORDER_STATUS, SYNC),
    ]
    assert {e.correlation_id for e in shop.recorder.events} == {order.cart_id}


def test_checkout_session_is_saved_under_its_own_name() -> None:
    # Seeds 001 and 004 draw one save of the order; the session's is another step.
    shop = Shop(PROFILES["004_reserve_stripe"])
    order = shop.place(shop.cart_with(("mug-red", 1))).order
    shop.recorder.clear()
    asked = orders.checkout_session_requested(shop.trace(), order)
    asked.reply(GW, PAY, Msg.CREATE_CHECKOUT_SESSION)
    orders.attach_payment_session(shop.uow, order_id=order.order_id, session_id="cs_1",
                                  url="https://gateway.test/pay/cs_1", trace=shop.trace())
    assert _steps(shop.recorder.events) == [
        (ORD, PAY, Msg.CREATE_CHECKOUT_SESSION, ASYNC),  # seed 000: Request Checkout Session
        (PAY, GW, Msg.CREATE_CHECKOUT_SESSION, SYNC),
        (GW, PAY, Msg.CREATE_CHECKOUT_SESSION, REPLY),
        (PAY, DB, Msg.SAVE_PAYMENT_SESSION, SYNC),  # seed 000: Payment Processing "save"
    ]


def test_duplicate_webhook_is_acknowledged_in_the_trace() -> None:
    shop = Shop(PROFILES["001_on_payment_hosted"])
    order = shop.checkout(("mug-red", 1))
    event = shop.event(order)
    shop.webhook(event)
    shop.recorder.clear()
    shop.webhook(event)
    assert _steps(shop.recorder.events) == [
        (GW, PAY, Msg.PAYMENT_WEBHOOK, SYNC),
        (PAY, GW, Msg.PAYMENT_WEBHOOK, REPLY),
    ]


def test_oversold_payment_records_the_refund() -> None:
    shop = Shop(PROFILES["001_on_payment_hosted"], stock=(("mug-red", "wh-north", 1),))
    first, second = shop.checkout(("mug-red", 1)), shop.checkout(("mug-red", 1), buyer="bob")
    shop.webhook(shop.event(first))
    shop.recorder.clear()
    shop.webhook(shop.event(second))
    steps = _steps(shop.recorder.events)
    assert (PAY, GW, Msg.REFUND, ASYNC) in steps
    assert (ORD, MAIL, Msg.SEND_CONFIRMATION, ASYNC) not in steps


def test_no_trace_records_nothing_and_bind_keeps_the_recorder() -> None:
    quiet = no_trace(5.0)
    quiet.call(B, CART, Msg.ADD_TO_CART)  # must not fail without a recorder
    shop = Shop(PROFILES["001_on_payment_hosted"])
    bound = Trace(shop.recorder, "", 7.0).bind("cart-x")
    bound.send_async(ORD, MAIL, Msg.SEND_CONFIRMATION)
    (event,) = shop.recorder.events[-1:]
    assert (event.correlation_id, event.at, event.kind) == ("cart-x", 7.0, ASYNC)


def test_trace_event_json_round_trip() -> None:
    event = TraceEvent("Buyer", "Cart", "add_to_cart", "c1", 1.5, MessageKind.REPLY)
    assert TraceEvent.from_json(event.to_json()) == event
