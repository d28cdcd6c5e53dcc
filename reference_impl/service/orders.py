"""Order handlers: checkout (seeds 000, 001, 002, 003, 004), the payment link, reading orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reference_impl.domain import checkout
from reference_impl.domain.errors import InsufficientInventory, ItemsUnavailable, NotFound
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import Policies
from reference_impl.domain.settlement import settle_cancellation, settle_payment
from reference_impl.domain.trace import Actor, Msg
from reference_impl.service.ports import DuplicateIdempotencyKey, UnitOfWork
from reference_impl.service.retry import retry_on_conflict
from reference_impl.service.settle import apply_settlement, stock_message
from reference_impl.service.tracing import Trace


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    cart_id: str
    buyer_id: str
    expected_total: Money | None = None
    idempotency_key: str | None = None
    #: ``checkout.request_fingerprint`` of the request; required with an idempotency key.
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    order: Order
    created: bool  # False: an idempotent replay of an earlier request (I9)


def place_order(
    uow: UnitOfWork,
    cmd: PlaceOrder,
    *,
    policies: Policies,
    now: float,
    new_order_id: Callable[[], str],
    trace: Trace,
) -> PlacedOrder:
    """Check out ``cmd.cart_id``.

    The trace gets the buyer's request and, on a refusal, its error reply; the successful
    reply is the caller's to record once the payment step of its profile is done (seed 001
    answers ``200 OK {paymentUrl, orderId}`` only after "Initiate payment").
    """
    trace = trace.bind(cmd.cart_id)
    with trace.answering(Actor.BUYER, Actor.ORDERS, Msg.CREATE_ORDER, reply=False):
        return _place_order(uow, cmd, policies=policies, now=now, new_order_id=new_order_id,
                            trace=trace)


def _place_order(
    uow: UnitOfWork,
    cmd: PlaceOrder,
    *,
    policies: Policies,
    now: float,
    new_order_id: Callable[[], str],
    trace: Trace,
) -> PlacedOrder:
    mark = trace.mark()
    try:
        with uow:
            if cmd.idempotency_key:
                earlier = uow.orders.find_by_idempotency_key(cmd.buyer_id, cmd.idempotency_key)
                if earlier is not None:
                    return PlacedOrder(
                        checkout.check_idempotent_replay(earlier, cmd.fingerprint), False
                    )
            trace.call(Actor.ORDERS, Actor.CART, Msg.GET_CART)
            cart = uow.carts.get(cmd.cart_id)
            if cart is None:
                raise NotFound(f"cart {cmd.cart_id} not found")
            account = None
            if policies.check_account:
                trace.call(Actor.ORDERS, Actor.ACCOUNTS, Msg.CHECK_ACCOUNT)
                account = uow.accounts.get(cmd.buyer_id)
            trace.call(Actor.ORDERS, Actor.INVENTORY, Msg.CHECK_INVENTORY)

            def available(variant_id: str, location_id: str) -> int:
                level = uow.stock.get(variant_id, location_id)
                return level.on_hand if level else 0

            placed = checkout.place_order(
                order_id=new_order_id(),
                cart=cart,
                buyer_id=cmd.buyer_id,
                account=account,
                variant_of=uow.catalog.get_variant,
                available=available,
                policies=policies,
                now=now,
                expected_total=cmd.expected_total,
                idempotency_key=cmd.idempotency_key,
                fingerprint=cmd.fingerprint,
            )
            # The order is written before the stock: on PostgreSQL a stock row is locked
            # from its UPDATE to the commit, and a flash sale queues every buyer on that
            # one row, so the lock is taken last (seed 000 also saves, then updates stock).
            trace.send(Actor.ORDERS, Actor.DATABASE, Msg.SAVE_ORDER)
            uow.orders.add(placed.order)
            if placed.moves:
                trace.call(Actor.ORDERS, Actor.INVENTORY, stock_message(placed.moves[0].kind))
                try:
                    uow.stock.apply(placed.moves)
                except InsufficientInventory as exc:
                    # Lost the race for the last units after the availability check.
                    raise ItemsUnavailable(exc.detail) from None
            uow.commit()
            return PlacedOrder(placed.order, True)
    except DuplicateIdempotencyKey:
        # Another request with the same key won the insert; answer with its order. This
        # attempt rolled back, so its messages are taken back: the trace is a replay's.
        trace.rewind(mark)
        with uow:
            earlier = uow.orders.find_by_idempotency_key(cmd.buyer_id, cmd.idempotency_key or "")
            if earlier is None:
                raise
            return PlacedOrder(
                checkout.check_idempotent_replay(earlier, cmd.fingerprint), False
            )


def get_order(uow: UnitOfWork, *, order_id: str, user_id: str) -> Order:
    with uow:
        order = uow.orders.get(order_id)
    if order is None or order.owner_id != user_id:
        raise NotFound(f"order {order_id} not found")  # I8: owner only, and no hint otherwise
    return order


def checkout_session_requested(trace: Trace, order: Order) -> Trace:
    """Seed 000: Order Management ->> Payment Processing: Request Checkout Session, and
    Payment Processing -> Payment Gateway: Create Checkout Session.

    The caller makes the gateway call (HTTP in the server, virtual time in the simulator),
    records the gateway's answer on the returned trace, then ``attach_payment_session``.
    """
    bound = trace.bind(order.cart_id)
    bound.send_async(Actor.ORDERS, Actor.PAYMENTS, Msg.CREATE_CHECKOUT_SESSION)
    bound.send(Actor.PAYMENTS, Actor.GATEWAY, Msg.CREATE_CHECKOUT_SESSION)
    return bound


def charge_requested(trace: Trace, order: Order) -> Trace:
    """Seed 002: OrderService -> PaymentService: processPayment, which charges at the gateway.

    The caller makes the gateway call, records the gateway's answer on the returned trace,
    then ``record_charge``, which answers Orders with the result.
    """
    bound = trace.bind(order.cart_id)
    bound.send(Actor.ORDERS, Actor.PAYMENTS, Msg.CHARGE)
    bound.send(Actor.PAYMENTS, Actor.GATEWAY, Msg.CHARGE)
    return bound


def attach_payment_session(
    uow: UnitOfWork,
    *,
    order_id: str,
    session_id: str,
    url: str,
    trace: Trace,
    answered: Callable[[Order], None] | None = None,
    placed: Order | None = None,
) -> Order:
    """Seed 000: Payment Processing "save"s the session link for the buyer to fetch later.

    ``answered`` records the caller's own reply, the request's last message, inside this
    unit, so that it is stored with the save instead of in a transaction of its own.
    ``placed``: the order as the caller's earlier unit wrote it (this call may change it);
    it is saved without being read again unless another unit changed it since.
    """
    unread = [placed] if placed is not None else []

    def unit() -> Order:
        with uow:
            order = unread.pop() if unread else uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            if order is placed:
                uow.orders.adopt(order)  # a conflict re-runs the unit with a fresh read
            # Its own name, not save_order: seeds 001 and 004 draw one save of the order,
            # before the gateway is asked; this second write, of the session on the order,
            # they do not draw. Recorded before the commit, so that it is stored with it.
            trace.bind(order.cart_id).send(
                Actor.PAYMENTS, Actor.DATABASE, Msg.SAVE_PAYMENT_SESSION
            )
            if order.payment_session_id != session_id:
                order.payment_session_id, order.payment_url = session_id, url
                uow.orders.save(order)
            if answered is not None:
                answered(order)
            uow.commit()
            return order

    return retry_on_conflict(unit, trace=trace)


def record_charge(
    uow: UnitOfWork,
    *,
    order_id: str,
    outcome: PaymentOutcome,
    amount: Money,
    policies: Policies,
    now: float,
    trace: Trace,
    answered: Callable[[Order], None] | None = None,
) -> tuple[Order, str]:
    """Seeds 002 and 003: the synchronous ``processPayment`` answered inside the request.

    ``answered``: as for ``attach_payment_session``.
    """

    def unit() -> tuple[Order, str]:
        with uow:
            order = uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            bound = trace.bind(order.cart_id)
            # Seed 002: PaymentService -->> OrderService: Payment Result (Success/Failure).
            bound.reply(Actor.PAYMENTS, Actor.ORDERS, Msg.CHARGE)
            settlement = settle_payment(order, outcome, amount, policies)
            verdict = apply_settlement(
                uow, order, settlement, now, bound, f"charge {outcome.value}"
            )
            if answered is not None:
                answered(order)
            uow.commit()
            return order, verdict

    return retry_on_conflict(unit, trace=trace)


def cancel_order(
    uow: UnitOfWork, *, order_id: str, user_id: str, policies: Policies, now: float, trace: Trace
) -> Order:
    def unit() -> Order:
        with uow:
            order = uow.orders.get(order_id)
            if order is None or order.owner_id != user_id:
                raise NotFound(f"order {order_id} not found")
            settlement = settle_cancellation(order, policies)
            apply_settlement(
                uow, order, settlement, now, trace.bind(order.cart_id), "cancelled by buyer"
            )
            uow.commit()
            return order

    return retry_on_conflict(unit, trace=trace)
