"""Random interleavings of buyers, gateway and clock against the in-memory shop.

For every stock commit point, any sequence of checkouts, payments, redeliveries, late events,
cancellations and expiries keeps I1 (stock), I2 (histories), I3 (redelivery changes nothing),
I7 (one confirmation per paid order; cart cleared only after success) and I11 (nothing stays
pending past its TTL once the expiry sweep ran).
"""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from reference_impl.domain.errors import DomainError
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus, is_valid_history
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome
from reference_impl.domain.policies import StockCommitPoint
from reference_impl.service.expiry import expire_due
from reference_impl.service.payments import DUPLICATE
from reference_impl.service.settle import CONFIRMATION_EMAIL
from tests.service.shop import PROFILES, Shop

BY_COMMIT = {
    StockCommitPoint.AT_ORDER: PROFILES["000_at_order_hosted"],
    StockCommitPoint.ON_PAYMENT: PROFILES["001_on_payment_hosted"],
    StockCommitPoint.RESERVE: PROFILES["004_reserve_stripe"],
}
SCARCE = (("mug-red", "wh-north", 3), ("mug-red", "wh-south", 1), ("poster-a2", "wh-north", 2))


class ShopMachine(RuleBasedStateMachine):
    commit: StockCommitPoint

    orders = Bundle("orders")
    events = Bundle("events")

    def __init__(self) -> None:
        super().__init__()
        self.shop = Shop(BY_COMMIT[self.commit], stock=SCARCE)
        self.ttl = self.shop.policies.reservation_ttl or 0.0
        self.swept_at: float | None = None

    @rule(
        target=orders,
        buyer=st.sampled_from(["alice", "bob"]),
        line=st.sampled_from(SCARCE),
        quantity=st.integers(1, 3),
    )
    def checkout(self, buyer: str, line: tuple[str, str, int], quantity: int) -> object:
        variant, location, _ = line
        try:
            cart_id = self.shop.new_cart(buyer)
            self.shop.add(cart_id, variant, quantity, user=buyer, location=location)
            return self.shop.place(cart_id, buyer).order.order_id
        except DomainError:
            return multiple()

    @rule(
        target=events,
        order_id=orders,
        outcome=st.sampled_from(list(PaymentOutcome)),
    )
    def gateway_reports(self, order_id: str, outcome: PaymentOutcome) -> PaymentEvent:
        event = self.shop.event(self.shop.order(order_id), outcome)
        self.shop.webhook(event)
        return event

    @rule(event=events)
    def gateway_redelivers(self, event: PaymentEvent) -> None:
        before = self.shop.snapshot()
        assert self.shop.webhook(event) == DUPLICATE
        assert self.shop.store == before  # I3

    @rule(order_id=orders)
    def buyer_cancels(self, order_id: str) -> None:
        order = self.shop.order(order_id)
        try:
            self.shop.cancel(order_id, order.owner_id)
        except DomainError:
            assert not order.is_pending

    @rule(dt=st.sampled_from([1.0, 60.0, 450.0, 900.0]))
    def time_passes(self, dt: float) -> None:
        self.shop.now += dt
        self.swept_at = None

    @rule()
    def expiry_sweep(self) -> None:
        expire_due(
            self.shop.uow, policies=self.shop.policies, now=self.shop.now, trace=self.shop.trace()
        )
        self.swept_at = self.shop.now

    def _orders(self) -> list[Order]:
        return list(self.shop.store.orders.values())

    @invariant()
    def i1_stock_is_conserved_and_matches_the_orders(self) -> None:
        assert self.shop.i1_violations() == []
        held: Counter[tuple[str, str]] = Counter()
        reserved: Counter[tuple[str, str]] = Counter()
        for order in self._orders():
            for line in order.lines:
                key = (line.variant_id, line.location_id)
                if order.holds_stock:
                    held[key] += line.quantity
                if (
                    order.holds_stock
                    and order.is_pending
                    and self.commit is StockCommitPoint.RESERVE
                ):
                    reserved[key] += line.quantity
        for key, level in self.shop.store.stock.items():
            assert level.sold + level.reserved == held[key], key
            assert level.reserved == reserved[key], key

    @invariant()
    def i2_histories_are_paths(self) -> None:
        for order in self._orders():
            assert is_valid_history([c.status for c in order.history]), order.history

    @invariant()
    def i7_one_confirmation_per_paid_order_and_cart_cleared_only_then(self) -> None:
        mails = Counter(m.order_id for m in self.shop.outbox(CONFIRMATION_EMAIL))
        for order in self._orders():
            paid = order.status is OrderStatus.PAID
            assert mails[order.order_id] == (1 if paid else 0), order.order_id
            assert (self.shop.store.carts[order.cart_id].lines == {}) is paid

    @precondition(lambda self: self.swept_at is not None)
    @invariant()
    def i11_nothing_pending_past_its_ttl_after_a_sweep(self) -> None:
        for order in self._orders():
            if order.is_pending:
                assert order.created_at + self.ttl > self.shop.now


def _machine(commit: StockCommitPoint) -> type[ShopMachine]:
    machine = type(f"ShopMachine_{commit.value}", (ShopMachine,), {"commit": commit})
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
    return machine


TestAtOrder = _machine(StockCommitPoint.AT_ORDER).TestCase
TestOnPayment = _machine(StockCommitPoint.ON_PAYMENT).TestCase
TestReserve = _machine(StockCommitPoint.RESERVE).TestCase
