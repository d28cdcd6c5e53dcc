"""The oracle: the reference implementation's own domain core and service layer, in memory.

Every operation the suite performs on the SUT is performed here too, with the SUT's ids
(a cart or an order gets its id from the SUT's answer, so the two never need mapping), and
the SUT's answers and state are compared with what the core decided. The model is the
reference implementation minus HTTP, storage and time: it cannot drift from the domain
rules because it *is* them (Hypothesis' ``test_database_agreement`` pattern).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from reference_impl.domain.cart import Cart
from reference_impl.domain.checkout import request_fingerprint
from reference_impl.domain.errors import DomainError
from reference_impl.domain.inventory import StockLevel
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome
from reference_impl.domain.policies import PaymentMode, Policies
from reference_impl.domain.settlement import settle_expiry
from reference_impl.service import admin, carts, orders, payments
from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from reference_impl.service.settle import apply_settlement
from reference_impl.service.tracing import no_trace
from scenarios.catalog_setup import ShopSetup

T = TypeVar("T")

#: The gateway double's test cards (docs/doubles.md): this one is declined.
DECLINED_CARD = "pm_card_chargeDeclined"


@dataclass(frozen=True, slots=True)
class Expect:
    """What the core decided for one operation: done, or refused with a stable code."""

    ok: bool
    code: str | None = None
    value: Any = None

    def describe(self) -> str:
        return "ok" if self.ok else f"refused {self.code}"


def _attempt(action: Callable[[], T]) -> Expect:
    try:
        return Expect(True, value=action())
    except DomainError as exc:
        return Expect(False, exc.code)


class ShopModel:
    def __init__(self, setup: ShopSetup, policies: Policies) -> None:
        self.policies = policies
        self.store = MemoryStore(tracing=False)
        admin.load_catalog(self._uow(), products=setup.products, locations=setup.locations)
        admin.load_accounts(self._uow(), setup.accounts)
        admin.receive_stock(self._uow(), setup.stock)

    def _uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store)

    # -- operations ------------------------------------------------------------------------

    def create_cart(self, cart_id: str, owner: str | None, now: float) -> Expect:
        return _attempt(lambda: carts.create_cart(
            self._uow(), cart_id=cart_id, owner_id=owner, now=now, trace=no_trace(now)))

    def set_line(self, cart_id: str, user: str | None, variant_id: str, location_id: str,
                 quantity: int, now: float) -> Expect:
        return _attempt(lambda: carts.set_cart_line(
            self._uow(), cart_id=cart_id, user_id=user, variant_id=variant_id,
            location_id=location_id, quantity=quantity, now=now, trace=no_trace(now)))

    def remove_line(self, cart_id: str, user: str | None, variant_id: str, now: float) -> Expect:
        return _attempt(lambda: carts.remove_cart_line(
            self._uow(), cart_id=cart_id, user_id=user, variant_id=variant_id, now=now,
            trace=no_trace(now)))

    def read_cart(self, cart_id: str, user: str | None) -> Expect:
        return _attempt(lambda: carts.get_cart(self._uow(), cart_id=cart_id, user_id=user))

    def place_order(self, *, order_id: str, cart_id: str, buyer: str, key: str | None,
                    expected_total: Money | None, payment_method: str | None,
                    now: float) -> Expect:
        """Checkout, and for synchronous profiles the charge (seeds 002, 003) that the gateway
        double answers by card: ``DECLINED_CARD`` fails, any other succeeds.

        ``value`` is ``orders.PlacedOrder``; ``created`` False is an idempotent replay (I9).
        """
        body = {"cart_id": cart_id, "payment_method": payment_method,
                "expected_total": expected_total.to_json() if expected_total else None}
        command = orders.PlaceOrder(
            cart_id=cart_id, buyer_id=buyer, expected_total=expected_total,
            idempotency_key=key, fingerprint=request_fingerprint(buyer, body))
        result = _attempt(lambda: orders.place_order(
            self._uow(), command, policies=self.policies, now=now,
            new_order_id=lambda: order_id, trace=no_trace(now)))
        placed = result.value
        if (result.ok and placed.created
                and self.policies.payment_mode is PaymentMode.SYNCHRONOUS):
            outcome = (PaymentOutcome.FAILED if payment_method == DECLINED_CARD
                       else PaymentOutcome.SUCCEEDED)
            orders.record_charge(self._uow(), order_id=order_id, outcome=outcome,
                                 amount=placed.order.total, policies=self.policies, now=now,
                                 trace=no_trace(now))
        return result

    def attach_session(self, order_id: str, session_id: str, url: str) -> None:
        orders.attach_payment_session(self._uow(), order_id=order_id, session_id=session_id,
                                      url=url, trace=no_trace())

    def apply_event(self, event: PaymentEvent, now: float) -> Expect:
        """An authenticated webhook; ``value`` is the verdict (paid, duplicate, stale...)."""
        return _attempt(lambda: payments.handle_payment_event(
            self._uow(), event, policies=self.policies, now=now, trace=no_trace(now)))

    def cancel_order(self, order_id: str, user: str, now: float) -> Expect:
        return _attempt(lambda: orders.cancel_order(
            self._uow(), order_id=order_id, user_id=user, policies=self.policies, now=now,
            trace=no_trace(now)))

    def expire(self, order_id: str, now: float) -> None:
        """This order's reservation expiry (the SUT runs it on its own clock; the model
        follows once the SUT shows it happened, one order at a time)."""
        uow = self._uow()
        with uow:
            order = uow.orders.get(order_id)
            if order is None:
                return
            settlement = settle_expiry(order, self.policies, now)
            if settlement.changes_anything:
                apply_settlement(uow, order, settlement, now, no_trace(now), "expired")
                uow.commit()

    def set_price(self, variant_id: str, price: Money) -> None:
        variant = self.store.variants[variant_id]
        product = self.store.products[variant.product_id]
        changed = replace(product, variants=tuple(
            replace(v, price=price) if v.variant_id == variant_id else v
            for v in product.variants))
        admin.load_catalog(self._uow(), products=[changed], locations=[])

    # -- state -----------------------------------------------------------------------------

    def cart(self, cart_id: str) -> Cart | None:
        return self.store.carts.get(cart_id)

    def order(self, order_id: str) -> Order | None:
        return self.store.orders.get(order_id)

    def all_orders(self) -> list[Order]:
        return list(self.store.orders.values())

    def stock(self) -> dict[tuple[str, str], StockLevel]:
        return dict(self.store.stock)

    def available(self, variant_id: str, location_id: str) -> int:
        level = self.store.stock.get((variant_id, location_id))
        return level.on_hand if level else 0

    def price(self, variant_id: str) -> Money | None:
        variant = self.store.variants.get(variant_id)
        return variant.price if variant else None

    def account_active(self, user: str) -> bool:
        account = self.store.accounts.get(user)
        return account is not None and account.active
