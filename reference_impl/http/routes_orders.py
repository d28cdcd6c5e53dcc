"""Orders: checkout (seeds 000, 001, 002, 003, 004), the payment link (seed 000), reading."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Header, Response, status

from reference_impl.domain.checkout import request_fingerprint
from reference_impl.domain.order import Order
from reference_impl.domain.policies import PaymentMode
from reference_impl.domain.trace import Actor, Msg
from reference_impl.http.deps import Buyer, RuntimeDep
from reference_impl.http.problems import ApiError, responses
from reference_impl.http.runtime import Runtime, new_id
from reference_impl.http.schemas import Id, OrderIn, OrderOut, PaymentOut, order_out
from reference_impl.outbound.gateway_client import GatewayUnavailable
from reference_impl.service import orders
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import Trace, no_trace

router = APIRouter(tags=["orders"])

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=255,
           description="Same key and body: the same order; another body: 422"),
]


async def _open_session(
    runtime: Runtime, order: Order, trace: Trace, answer: Callable[[Order], None]
) -> Order:
    """Seed 000: Order Management ->> Payment Processing: Request Checkout Session.

    ``answer`` records the request's reply in the same unit as the session's save, so that
    the whole trace is stored with it (no transaction of its own).
    """
    bound = orders.checkout_session_requested(trace, order)
    try:
        session = await runtime.gateway.create_checkout_session(order)
    except GatewayUnavailable:
        # The order stands; the buyer asks for the link again later (seed 000's
        # "Request checkout session link"), which retries the gateway.
        answer(order)
        return order
    bound.reply(Actor.GATEWAY, Actor.PAYMENTS, Msg.CREATE_CHECKOUT_SESSION)

    def attach(uow: UnitOfWork) -> Order:
        return orders.attach_payment_session(
            uow, order_id=order.order_id, session_id=session.session_id, url=session.url,
            trace=trace, answered=answer, placed=order,
        )

    return await runtime.run_unit(attach, trace)


async def _charge(
    runtime: Runtime, order: Order, payment_method: str | None, trace: Trace,
    answer: Callable[[Order], None],
) -> Order:
    """Seeds 002 and 003: processPayment answers inside the checkout request."""
    bound = orders.charge_requested(trace, order)
    try:
        result = await runtime.gateway.charge(order, payment_method)
    except GatewayUnavailable as exc:
        raise ApiError(503, "gateway_unavailable", str(exc), order_id=order.order_id) from None
    bound.reply(Actor.GATEWAY, Actor.PAYMENTS, Msg.CHARGE)

    def record(uow: UnitOfWork) -> Order:
        charged, _ = orders.record_charge(
            uow, order_id=order.order_id, outcome=result.outcome, amount=order.total,
            policies=runtime.policies, now=runtime.clock(), trace=trace, answered=answer,
        )
        return charged

    charged = await runtime.run_unit(record, trace)
    runtime.wake_worker()
    return charged


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": OrderOut, "description": "An idempotent replay of an earlier request"},
        **responses(401, 403, 404, 409, 422, 503),
    },
)
async def create_order(
    runtime: RuntimeDep,
    body: OrderIn,
    user: Buyer,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderOut:
    # Async, so that each step runs where it is cheapest: the units of work on the
    # storage's runner (batched with other requests' units), the gateway call on this
    # event loop (no thread hand-off; see gateway_client.py).
    trace = runtime.trace(runtime.clock())
    command = orders.PlaceOrder(
        cart_id=body.cart_id,
        buyer_id=user,
        expected_total=body.expected_total.to_money() if body.expected_total else None,
        idempotency_key=idempotency_key,
        fingerprint=request_fingerprint(user, body.model_dump(mode="json")),
    )

    def answer(order: Order) -> None:
        trace.bind(order.cart_id).reply(Actor.ORDERS, Actor.BUYER, Msg.CREATE_ORDER)

    def place(uow: UnitOfWork) -> orders.PlacedOrder:
        return orders.place_order(
            uow, command, policies=runtime.policies, now=trace.now,
            new_order_id=lambda: new_id("ord"), trace=trace,
        )

    try:
        placed = await runtime.run_unit(place, trace)
        order = placed.order
        if not placed.created:
            response.status_code = status.HTTP_200_OK
            response.headers["Idempotent-Replayed"] = "true"
        if order.is_pending and order.payment_session_id is None:
            if runtime.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
                order = await _open_session(runtime, order, trace, answer)
            elif placed.created:
                order = await _charge(runtime, order, body.payment_method, trace, answer)
            else:
                answer(order)
        else:
            answer(order)
    finally:
        await runtime.store_trace(trace)
    return order_out(order, runtime.settings.status_labels)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=responses(401, 404, 422))
def read_order(runtime: RuntimeDep, order_id: Id, user: Buyer) -> OrderOut:
    order = orders.get_order(runtime.reader(), order_id=order_id, user_id=user)
    return order_out(order, runtime.settings.status_labels)


@router.get(
    "/orders/{order_id}/payment", response_model=PaymentOut, responses=responses(401, 404, 422)
)
async def payment_link(runtime: RuntimeDep, order_id: Id, user: Buyer) -> PaymentOut:
    """Seed 000: the buyer fetches the checkout session link after the order was saved."""
    order = await runtime.run_unit(
        lambda uow: orders.get_order(uow, order_id=order_id, user_id=user), no_trace()
    )
    trace = runtime.trace(runtime.clock())
    bound = trace.bind(order.cart_id)
    bound.send(Actor.BUYER, Actor.PAYMENTS, Msg.GET_PAYMENT_LINK)

    def answer(_: Order) -> None:
        bound.reply(Actor.PAYMENTS, Actor.BUYER, Msg.GET_PAYMENT_LINK)

    try:
        if (
            order.is_pending
            and order.payment_session_id is None
            and runtime.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT
        ):
            order = await _open_session(runtime, order, trace, answer)
        else:
            answer(order)
    finally:
        await runtime.store_trace(trace)
    return PaymentOut(session_id=order.payment_session_id, url=order.payment_url)


@router.post(
    "/orders/{order_id}/cancel", response_model=OrderOut, responses=responses(401, 404, 409, 422)
)
def cancel_order(runtime: RuntimeDep, order_id: Id, user: Buyer) -> OrderOut:
    trace = runtime.trace(runtime.clock())
    order = runtime.run_unit_here(
        lambda uow: orders.cancel_order(
            uow, order_id=order_id, user_id=user, policies=runtime.policies, now=trace.now,
            trace=trace,
        ),
        trace,
    )
    return order_out(order, runtime.settings.status_labels)
