"""The shop's side of the simulation: each request a buyer or the gateway makes of the shop.

A request waits for one of the shop's workers (``capacity.workers``), spends the latency of
the actors it passes through (``latency.cart``, ``latency.orders``, ...), makes one call to
the database pool (``capacity.database_pool``, ``latency.database``), and is then decided
by the service layer's handler, exactly as the HTTP server decides it: the same
``carts.set_cart_line``, ``orders.place_order``, ``payments.handle_payment_event`` on the
in-memory unit of work. The handler runs at the end of the request's database call, which
is where a real request would commit.

The trace gets the messages the handlers record themselves (refusals included, named after
their error code) plus those the HTTP layer records in ``routes_orders`` and
``routes_catalog``: the gateway's answers, the reply to ``create_order``, the payment link.
The correlation id of every message is the buyer's cart id, browsing included.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from reference_impl.domain import signatures
from reference_impl.domain.errors import DomainError, InsufficientInventory, ItemsUnavailable
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentEvent, decode_event, encode_event
from reference_impl.domain.policies import PaymentMode
from reference_impl.domain.trace import Actor, Msg, TraceRecorder
from reference_impl.service import carts, orders, payments
from reference_impl.service.payments import DUPLICATE, UNKNOWN_ORDER
from reference_impl.service.tracing import Trace
from scenarios.schema import Scenario
from sim.capacity import Station, Wait
from sim.observations import Observations, TurnAway
from sim.storage import sim_unit_of_work
from sim.streams import RandomStreams

if TYPE_CHECKING:
    from sim.buyer import Intent
    from sim.gateway import Gateway

#: The secret the simulated gateway signs with; a forged webhook uses another.
WEBHOOK_SECRET = "whsec_simulated"
FORGED_SECRET = "whsec_forged"
#: How far a stale webhook's timestamp lies beyond the tolerance, in seconds.
STALE_MARGIN = 60

Sampler = Callable[[], float]


# Tracing off: one trace for every request, as nothing reads the time or id of a trace
# that records nothing (and ``Trace`` skips its bookkeeping without a recorder).
_UNRECORDED = Trace(None, "", 0.0)


class Shop:
    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: RandomStreams,
        obs: Observations,
        recorder: TraceRecorder | None,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.obs = obs
        self.recorder = recorder
        self.policies = scenario.policies()
        self.hosted = self.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT
        self.uow = sim_unit_of_work(scenario, streams["accounts"])
        capacity, latency = scenario.capacity, scenario.latency
        # A worker's time is the request's own work; it has no service time of its own.
        self.workers = Station(env, "workers", capacity.workers, None, None, window)
        self.database = Station(
            env, "database", capacity.database_pool, latency.database,
            streams["latency.database"], window,
        )
        self.gateway: Gateway  # set by the model once the gateway exists

        def actors(*names: str) -> tuple[Sampler, ...]:
            return tuple(
                dist.sampler(streams[f"latency.{name}"])
                for name in names
                if (dist := getattr(latency, name)) is not None
            )

        self._catalog_work = actors("catalog")
        self._add_work = actors("cart", "catalog", "inventory")
        checkout = ("orders", "cart", "accounts", "inventory")
        self._checkout_work = actors(
            *(n for n in checkout if n != "accounts" or self.policies.check_account)
        )
        self._payments_work = actors("payments")
        self._webhook_work = actors("payments", "orders")
        self._order_ids = (f"o{n}" for n in itertools.count())
        self._session_ids = (f"cs{n}" for n in itertools.count())
        #: Set by the expiry worker while it waits for the first order with an expiry.
        self.expiry_wakeup: simpy.Event | None = None
        self.mail_wakeup: simpy.Event | None = None
        self.cart_of_order: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def trace(self, correlation_id: str = "") -> Trace:
        if self.recorder is None:
            return _UNRECORDED  # nothing reads the time or id of a trace that records nothing
        return Trace(self.recorder, correlation_id, self.env.now)

    def _work(self, samplers: tuple[Sampler, ...]) -> Wait:
        """The request's own processing time, then its call to the database."""
        duration = 0.0
        for sample in samplers:
            duration += sample()
        return self.database.serve(duration)

    @staticmethod
    def _wake(event: simpy.Event | None) -> None:
        if event is not None and not event.triggered:
            event.succeed()

    # -- browsing (seed 003) ----------------------------------------------------------------

    def browse(self, cart_id: str, message: Msg, patience: float | None) -> Wait:
        """``list_products`` or ``view_product``: the catalog and one database read."""
        if not self.workers.take():
            yield from self.workers.acquire(patience)
        try:
            yield from self._work(self._catalog_work)
            self.trace(cart_id).call(Actor.BUYER, Actor.CATALOG, message)
        finally:
            self.workers.release()

    # -- the cart (seeds 000, 002, 003) ------------------------------------------------------

    def add_lines(self, buyer: int, intent: Intent, patience: float | None) -> Wait:
        """Add the buyer's lines one request each; the first also creates the cart.

        Returns ``(lines added, lines refused for want of stock)``.
        """
        added = short = 0
        uow, obs, cart_id, account = self.uow, self.obs, intent.cart_id, intent.account
        workers = self.workers
        for variant_id, location_id, quantity in intent.lines:
            if not workers.take():
                yield from workers.acquire(patience)
            try:
                yield from self._work(self._add_work)
                now = self.env.now
                trace = self.trace()
                if not intent.has_cart:
                    carts.create_cart(uow, cart_id=cart_id, owner_id=account, now=now,
                                      trace=trace)
                    intent.has_cart = True
                try:
                    carts.set_cart_line(
                        uow, cart_id=cart_id, user_id=account, variant_id=variant_id,
                        location_id=location_id, quantity=quantity, now=now, trace=trace,
                    )
                    added += 1
                except InsufficientInventory:
                    # Seed 002, "alt insufficient inventory" (the handler traced the refusal).
                    # Its own clause, not an isinstance test: most adds of a flash sale end here.
                    short += 1
                    obs.turned_away.append(TurnAway(now, buyer, variant_id, location_id, quantity))
                except DomainError:
                    pass  # any other refusal: traced by the handler, nothing to count
            finally:
                workers.release()
        return added, short

    # -- checkout (all seeds) ---------------------------------------------------------------

    def checkout(self, buyer: int, intent: Intent, patience: float | None) -> Wait:
        """Place the order, then open the checkout session (hosted) or charge (synchronous).

        Returns the order, or the refusal's error code.
        """
        if not self.workers.take():
            yield from self.workers.acquire(patience)
        try:
            yield from self._work(self._checkout_work)
            now = self.env.now
            trace = self.trace()
            try:
                placed = orders.place_order(
                    self.uow,
                    orders.PlaceOrder(cart_id=intent.cart_id, buyer_id=intent.account),
                    policies=self.policies,
                    now=now,
                    new_order_id=self._order_ids.__next__,
                    trace=trace,
                )
            except DomainError as exc:
                if isinstance(exc, ItemsUnavailable):
                    self._note_shortage(buyer, intent, now)
                return exc.code
            order = placed.order
            self.cart_of_order[order.order_id] = order.cart_id
            if order.expires_at is not None:
                self._wake(self.expiry_wakeup)
            if self.hosted:
                order = yield from self.open_session(order)
            else:
                order = yield from self.charge(order, intent.declined)
            self.trace(order.cart_id).reply(Actor.ORDERS, Actor.BUYER, Msg.CREATE_ORDER)
            return order
        finally:
            self.workers.release()

    def _note_shortage(self, buyer: int, intent: Intent, now: float) -> None:
        """Which of the cart's lines lacked stock when checkout refused it (seed 001's 409)."""
        stock = self.uow.store.stock
        for variant_id, location_id, quantity in intent.lines:
            level = stock.get((variant_id, location_id))
            if level is not None and level.on_hand < quantity:
                self.obs.turned_away.append(
                    TurnAway(now, buyer, variant_id, location_id, quantity)
                )

    # -- payment: hosted checkout (seeds 000, 001, 004) -------------------------------------

    def open_session(self, order: Order) -> Wait:
        """Seed 000: Order Management ->> Payment Processing: Request Checkout Session.

        Like the server, a gateway that does not answer leaves the order without a link;
        the buyer asks for it again later (``payment_link``).
        """
        orders.checkout_session_requested(self.trace(), order)
        answered = yield from self.gateway.call_api()
        if not answered:
            return order
        self.trace(order.cart_id).reply(Actor.GATEWAY, Actor.PAYMENTS,
                                        Msg.CREATE_CHECKOUT_SESSION)
        session_id = next(self._session_ids)
        yield from self.database.serve()
        return orders.attach_payment_session(
            self.uow, order_id=order.order_id, session_id=session_id,
            url=f"https://gateway.sim/pay/{session_id}", trace=self.trace(), placed=order,
        )

    def payment_link(self, intent: Intent, order: Order, patience: float | None) -> Wait:
        """Seed 000: the buyer fetches the checkout session link after the order was saved."""
        if not self.workers.take():
            yield from self.workers.acquire(patience)
        try:
            yield from self._work(self._payments_work)
            order = orders.get_order(self.uow, order_id=order.order_id, user_id=intent.account)
            bound = self.trace(order.cart_id)
            bound.send(Actor.BUYER, Actor.PAYMENTS, Msg.GET_PAYMENT_LINK)
            if order.is_pending and order.payment_session_id is None:
                order = yield from self.open_session(order)
            self.trace(order.cart_id).reply(Actor.PAYMENTS, Actor.BUYER, Msg.GET_PAYMENT_LINK)
            return order
        finally:
            self.workers.release()

    def receive_webhook(self, event: PaymentEvent, stale: bool, forged: bool) -> Wait:
        """``POST /payments/webhook``: authenticated first (I5), then applied once (I3).

        Returns whether the shop answered 2xx. The body is encoded and signed in the
        profile's dialect and checked by the domain's own ``signatures.verify``.
        """
        if not self.workers.take():
            yield from self.workers.acquire()
        try:
            yield from self._work(self._webhook_work)
            now = self.env.now
            policies = self.policies
            body = encode_event(policies.webhook_dialect, event)
            stamp = int(now) - (int(policies.webhook_tolerance) + STALE_MARGIN if stale else 0)
            header = signatures.sign(FORGED_SECRET if forged else WEBHOOK_SECRET, stamp, body)
            try:
                signatures.verify(WEBHOOK_SECRET, header, body, now, policies.webhook_tolerance)
            except DomainError:
                self.obs.webhook_rejected += 1
                return False
            decoded = decode_event(policies.webhook_dialect, body)
            if decoded is None:
                return True
            verdict = payments.handle_payment_event(
                self.uow, decoded, policies=policies, now=now, trace=self.trace()
            )
            if verdict not in (DUPLICATE, UNKNOWN_ORDER):
                self._wake(self.mail_wakeup)
            return True
        finally:
            self.workers.release()

    # -- payment: synchronous (seeds 002, 003) ----------------------------------------------

    def charge(self, order: Order, declined: bool) -> Wait:
        """Seeds 002 and 003: ``processPayment`` answers inside the checkout request."""
        orders.charge_requested(self.trace(), order)
        answered = yield from self.gateway.call_api()
        if not answered:
            return order  # the server answers 503 and the order stays pending
        self.trace(order.cart_id).reply(Actor.GATEWAY, Actor.PAYMENTS, Msg.CHARGE)
        yield from self.database.serve()
        charged, _ = orders.record_charge(
            self.uow, order_id=order.order_id, outcome=self.gateway.outcome(declined),
            amount=order.total, policies=self.policies, now=self.env.now, trace=self.trace(),
        )
        self._wake(self.mail_wakeup)
        return charged
