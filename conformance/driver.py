"""The harness's operations on a SUT, by name, through its adapter.

The state machine calls these (and the model beside them); the replay script calls the
very same ones, so a replayed step sends what the failing run sent. Carts and orders are
named by the harness (``cart_1``, ``order_1``); ``ids`` maps each name to the SUT's id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from conformance.adapters.base import Outcome
from conformance.payments import Delivered, Forgery
from conformance.recording import Recording, RecordingTransport, Step
from conformance.target import Target
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome


@dataclass
class Names:
    """Harness names -> SUT ids, and the events the harness delivered, by name."""

    ids: dict[str, str] = field(default_factory=dict)
    events: dict[str, PaymentEvent] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def new(self, kind: str) -> str:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return f"{kind}_{self.counters[kind]}"


class Driver:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.adapter = target.adapter
        transport = self.adapter.transport
        if not isinstance(transport, RecordingTransport):
            transport = RecordingTransport(transport)
            self.adapter.transport = transport
        self._transport = transport
        self.recording = Recording()
        self.names = Names()

    def restart(self) -> Recording:
        """A new example: a clean shop, new names, a new recording."""
        self.recording = Recording()
        self._transport.recording = self.recording
        self.names = Names()
        self.recording.steps.append(Step(0, "reset and set up", {}))
        self.target.reset()
        return self.recording

    def pause(self) -> None:
        """Stop recording until the next ``restart`` (the races and schema checks between
        examples are not part of any example)."""
        self._transport.recording = None

    def detach(self) -> None:
        """Give the adapter its own transport back."""
        if self.adapter.transport is self._transport:
            self.adapter.transport = self._transport.inner

    # -- carts -----------------------------------------------------------------------------

    def create_cart(self, buyer: str | None) -> tuple[Outcome, str | None]:
        outcome = self.adapter.create_cart(buyer)
        return outcome, (self.adapter.cart_id(outcome) if outcome.ok else None)

    def set_line(self, actor: str | None, cart_id: str, variant_id: str, location_id: str,
                 quantity: int) -> Outcome:
        return self.adapter.set_line(actor, cart_id, variant_id, location_id, quantity)

    def remove_line(self, actor: str | None, cart_id: str, variant_id: str) -> Outcome:
        return self.adapter.remove_line(actor, cart_id, variant_id)

    def read_cart(self, actor: str | None, cart_id: str) -> Outcome:
        return self.adapter.read_cart(actor, cart_id)

    # -- orders ----------------------------------------------------------------------------

    def place_order(self, buyer: str, cart_id: str, *, key: str | None,
                    expected_total: Money | None, payment_method: str | None) -> Outcome:
        return self.adapter.place_order(
            buyer, cart_id, idempotency_key=key,
            expected_total=expected_total.to_json() if expected_total else None,
            payment_method=payment_method)

    def read_order(self, actor: str, order_id: str) -> Outcome:
        return self.adapter.read_order(actor, order_id)

    def cancel_order(self, buyer: str, order_id: str) -> Outcome:
        return self.adapter.cancel_order(buyer, order_id)

    def payment_session(self, buyer: str, order: dict[str, Any]) -> str | None:
        """The order's checkout session; seed 000's buyer fetches the link in a second call."""
        session = (order.get("payment") or {}).get("session_id")
        if session:
            return str(session)
        link = self.adapter.payment_link(buyer, str(order["order_id"]))
        if link.ok and isinstance(link.body, dict) and link.body.get("session_id"):
            return str(link.body["session_id"])
        return None

    # -- payments --------------------------------------------------------------------------

    def pay(self, order_id: str, session_id: str, outcome: PaymentOutcome,
            amount: Money) -> Delivered:
        return self.target.payments.complete(order_id=order_id, session_id=session_id,
                                             outcome=outcome, amount=amount)

    def deliver(self, event: PaymentEvent, forgery: Forgery = "none") -> Outcome:
        return self.target.payments.deliver(event, forgery)

    def deliver_concurrently(self, event: PaymentEvent, copies: int) -> list[Outcome | None]:
        return self.target.payments.deliver_concurrently(event, copies)

    def set_price(self, variant_id: str, price: Money) -> None:
        self.adapter.set_price(variant_id, price)

    # -- looking -----------------------------------------------------------------------------

    def stock(self) -> list[dict[str, Any]]:
        with self.recording.observing():
            return self.adapter.stock()

    def orders(self) -> list[dict[str, Any]]:
        with self.recording.observing():
            return self.adapter.orders()

    def observe_order(self, actor: str, order_id: str) -> Outcome:
        with self.recording.observing():
            return self.adapter.read_order(actor, order_id)

    def observe_cart(self, actor: str | None, cart_id: str) -> Outcome:
        with self.recording.observing():
            return self.adapter.read_cart(actor, cart_id)

    def emails(self, order_id: str) -> int:
        return len(self.adapter.emails(order_id))

    def wait_for_emails(self, order_ids: list[str], timeout: float) -> dict[str, int]:
        """Wait until each order has at least one email, or ``timeout``; then look once more a
        moment later, so that a late duplicate is seen too (docs/doubles.md)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.emails(o) >= 1 for o in order_ids):
                break
            time.sleep(0.05)
        time.sleep(0.15)
        return {o: self.emails(o) for o in order_ids}

