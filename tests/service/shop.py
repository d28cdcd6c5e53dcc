"""A small driver for the service handlers over ``InMemoryUnitOfWork`` (cosmicpython's fake).

Each method is one buyer- or gateway-side step of the seed flows, with the clock held here
and passed in, as the handlers expect.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.checkout import request_fingerprint
from reference_impl.domain.inventory import StockLevel
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome
from reference_impl.domain.policies import (
    PaymentMode,
    Policies,
    StockCommitPoint,
    WebhookDialect,
)
from reference_impl.domain.trace import TraceRecorder
from reference_impl.service import admin, carts, orders, payments
from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from reference_impl.service.ports import OutboxMessage
from reference_impl.service.tracing import Trace

MUG = Variant("mug-red", "mug", "MUG-R", "Red mug", Money(1200, "EUR"))
POSTER = Variant("poster-a2", "poster", "POS-A2", "Poster A2", Money(900, "EUR"))
GONE = Variant(
    "poster-gone", "poster", "POS-X", "Gone poster", Money(100, "EUR"), deliverable=False
)
PRODUCTS = (
    Product("mug", "Mug", "A mug", (MUG,)),
    Product("poster", "Poster", "A poster", (POSTER, GONE)),
)
NORTH, SOUTH = Location("wh-north", "North"), Location("wh-south", "South")
ACCOUNTS = (
    Account("alice", "alice@buyer.test"),
    Account("bob", "bob@buyer.test"),
    Account("carol", "carol@buyer.test", active=False),
)
STOCK = (("mug-red", "wh-north", 5), ("mug-red", "wh-south", 2), ("poster-a2", "wh-north", 50))

H, S = PaymentMode.HOSTED_CHECKOUT, PaymentMode.SYNCHRONOUS
#: One profile per seed (DESIGN.md section 1), plus the reserve commit point.
PROFILES: dict[str, Policies] = {
    "000_at_order_hosted": Policies(StockCommitPoint.AT_ORDER, H, check_account=True),
    "001_on_payment_hosted": Policies(StockCommitPoint.ON_PAYMENT, H, WebhookDialect.GENERIC),
    "002_on_payment_sync": Policies(StockCommitPoint.ON_PAYMENT, S),
    "003_at_order_sync": Policies(StockCommitPoint.AT_ORDER, S, check_account=False),
    "004_reserve_stripe": Policies(StockCommitPoint.RESERVE, H, WebhookDialect.STRIPE),
}


class Shop:
    def __init__(
        self,
        policies: Policies,
        *,
        stock: tuple[tuple[str, str, int], ...] = STOCK,
        now: float = 1_000.0,
    ) -> None:
        self.policies = policies
        self.uow = InMemoryUnitOfWork()
        self.recorder = TraceRecorder()
        self.now = now
        self._ids = itertools.count(1)
        admin.load_catalog(self.uow, products=PRODUCTS, locations=(NORTH, SOUTH))
        admin.load_accounts(self.uow, ACCOUNTS)
        admin.receive_stock(self.uow, stock)

    # --- reading the store ----------------------------------------------------------------

    @property
    def store(self) -> MemoryStore:
        return self.uow.store

    def snapshot(self) -> MemoryStore:
        return copy.deepcopy(self.uow.store)

    def order(self, order_id: str) -> Order:
        return self.store.orders[order_id]

    def level(self, variant_id: str = "mug-red", location_id: str = "wh-north") -> StockLevel:
        return self.store.stock[(variant_id, location_id)]

    def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        return [m for m in self.store.outbox if kind is None or m.kind == kind]

    def i1_violations(self) -> list[str]:
        return [p for level in self.store.stock.values() for p in level.violations()]

    # --- buyer steps -----------------------------------------------------------------------

    def trace(self) -> Trace:
        return Trace(self.recorder, "", self.now)

    def new_cart(self, owner: str | None = "alice") -> str:
        cart_id = f"cart-{next(self._ids)}"
        carts.create_cart(
            self.uow, cart_id=cart_id, owner_id=owner, now=self.now, trace=self.trace()
        )
        return cart_id

    def add(
        self,
        cart_id: str,
        variant_id: str = "mug-red",
        quantity: int = 1,
        *,
        user: str | None = "alice",
        location: str = "wh-north",
    ) -> None:
        carts.set_cart_line(
            self.uow,
            cart_id=cart_id,
            user_id=user,
            variant_id=variant_id,
            location_id=location,
            quantity=quantity,
            now=self.now,
            trace=self.trace(),
        )

    def remove(self, cart_id: str, variant_id: str, *, user: str | None = "alice") -> None:
        carts.remove_cart_line(
            self.uow,
            cart_id=cart_id,
            user_id=user,
            variant_id=variant_id,
            now=self.now,
            trace=self.trace(),
        )

    def cart_with(self, *lines: tuple[str, int], owner: str = "alice") -> str:
        cart_id = self.new_cart(owner)
        for variant_id, quantity in lines:
            self.add(cart_id, variant_id, quantity, user=owner)
        return cart_id

    def place(
        self,
        cart_id: str,
        buyer: str = "alice",
        *,
        key: str | None = None,
        body: dict[str, Any] | None = None,
        expected_total: Money | None = None,
    ) -> orders.PlacedOrder:
        fingerprint = request_fingerprint(buyer, body or {"cartId": cart_id}) if key else None
        return orders.place_order(
            self.uow,
            orders.PlaceOrder(cart_id, buyer, expected_total, key, fingerprint),
            policies=self.policies,
            now=self.now,
            new_order_id=lambda: f"order-{next(self._ids)}",
            trace=self.trace(),
        )

    def checkout(self, *lines: tuple[str, int], buyer: str = "alice") -> Order:
        """Cart, order and (hosted profiles) the checkout session, as seeds 000/001/004 do."""
        order = self.place(self.cart_with(*lines, owner=buyer), buyer).order
        if self.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
            order = orders.attach_payment_session(
                self.uow,
                order_id=order.order_id,
                session_id=f"cs_{order.order_id}",
                url=f"https://gateway.test/pay/cs_{order.order_id}",
                trace=self.trace(),
            )
        return order

    def cancel(self, order_id: str, user: str = "alice") -> Order:
        return orders.cancel_order(
            self.uow,
            order_id=order_id,
            user_id=user,
            policies=self.policies,
            now=self.now,
            trace=self.trace(),
        )

    # --- gateway steps ---------------------------------------------------------------------

    def event(
        self,
        order: Order,
        outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED,
        *,
        event_id: str | None = None,
        amount: Money | None = None,
    ) -> PaymentEvent:
        return PaymentEvent(
            event_id=event_id or f"evt-{next(self._ids)}",
            order_id=order.order_id,
            session_id=order.payment_session_id or "",
            outcome=outcome,
            amount=amount or order.total,
            created=int(self.now),
        )

    def webhook(self, event: PaymentEvent) -> str:
        return payments.handle_payment_event(
            self.uow, event, policies=self.policies, now=self.now, trace=self.trace()
        )

    def pay(self, order: Order, outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED) -> str:
        """The payment as the profile takes it: webhook (hosted) or charge (synchronous)."""
        if self.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
            return self.webhook(self.event(order, outcome))
        return self.charge(order, outcome)

    def charge(
        self,
        order: Order,
        outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED,
        amount: Money | None = None,
    ) -> str:
        _, verdict = orders.record_charge(
            self.uow,
            order_id=order.order_id,
            outcome=outcome,
            amount=amount or order.total,
            policies=self.policies,
            now=self.now,
            trace=self.trace(),
        )
        return verdict
