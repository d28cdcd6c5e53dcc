"""Payments as the harness drives them: real completions, and webhooks it signs itself.

A real payment goes through the gateway double when the SUT is on a socket the double can
call back (``via_gateway``): the double completes the session and delivers its own signed
webhook. A shop in this process (no socket) gets the same event, built and signed here
exactly as the double would (``encode_event`` + ``signatures.sign``), through the adapter.

Duplicate, late, forged, stale and tampered webhooks are always signed here: the harness
needs to choose their event id, outcome, timestamp and signature one by one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from conformance.adapters.base import AdapterError, Outcome, ShopAdapter
from conformance.doubles.gateway import GatewayDouble
from reference_impl.domain import signatures
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome, encode_event
from reference_impl.domain.policies import WebhookDialect

#: How a webhook is (mis)signed. ``none``: correctly, now.
Forgery = Literal["none", "unsigned", "wrong_secret", "stale", "tampered"]
FORGERIES: tuple[Forgery, ...] = ("unsigned", "wrong_secret", "stale", "tampered")


class WebhookSigner:
    def __init__(self, secret: str, dialect: WebhookDialect, tolerance: float = 300.0) -> None:
        self.secret, self.dialect, self.tolerance = secret, dialect, tolerance
        self._ids = itertools.count(1)

    def event(self, *, order_id: str, session_id: str, outcome: PaymentOutcome, amount: Money,
              event_id: str | None = None, created: int | None = None) -> PaymentEvent:
        return PaymentEvent(
            event_id=event_id or f"evt_pf_{int(time.time() * 1000)}_{next(self._ids)}",
            order_id=order_id, session_id=session_id, outcome=outcome, amount=amount,
            created=int(time.time()) if created is None else created)

    def sign(self, event: PaymentEvent, forgery: Forgery = "none") -> tuple[bytes, dict[str, str]]:
        body = encode_event(self.dialect, event)
        header = signatures.SIGNATURE_HEADERS[self.dialect]
        now = int(time.time())
        if forgery == "unsigned":
            return body, {}
        if forgery == "wrong_secret":
            return body, {header: signatures.sign(self.secret + "-forged", now, body)}
        if forgery == "stale":
            # Right secret, right body, timestamp a minute beyond the tolerance (seed 004).
            then = now - int(self.tolerance) - 60
            return body, {header: signatures.sign(self.secret, then, body)}
        signed = signatures.sign(self.secret, now, body)
        if forgery == "tampered":
            # Signed for one body, sent with another: the amount was raised in transit.
            data = json.loads(body)
            _tamper(data)
            return json.dumps(data, separators=(",", ":")).encode(), {header: signed}
        return body, {header: signed}


def _tamper(data: dict[str, object]) -> None:
    inner = data.get("data")
    if isinstance(inner, dict) and isinstance(inner.get("object"), dict):
        session = inner["object"]
        session["amount_total"] = int(session.get("amount_total", 0)) + 1
    else:
        data["amount"] = int(data.get("amount", 0)) + 1  # type: ignore[call-overload]


@dataclass(frozen=True, slots=True)
class Delivered:
    """A real payment's webhook: the event and how the SUT acknowledged it (None: unknown)."""

    event: PaymentEvent
    status: int | None
    outcome: Outcome | None = None


class Payments:
    def __init__(self, adapter: ShopAdapter, signer: WebhookSigner,
                 gateway: GatewayDouble | None, *, via_gateway: bool,
                 settle_timeout: float = 10.0) -> None:
        if via_gateway and gateway is None:
            raise ValueError("via_gateway needs the gateway double")
        self.adapter, self.signer, self.gateway = adapter, signer, gateway
        self.via_gateway = via_gateway
        self.settle_timeout = settle_timeout

    def session_amount(self, session_id: str) -> Money | None:
        """The amount the SUT asked the gateway for (I6), when the gateway is ours."""
        if self.gateway is None or not session_id:
            return None
        try:
            session = self.gateway.session(session_id)
        except Exception:
            return None
        return Money(int(session["amount_total"]), str(session["currency"]).upper())

    def complete(self, *, order_id: str, session_id: str, outcome: PaymentOutcome,
                 amount: Money) -> Delivered:
        """The buyer pays (or is declined) at the gateway; its webhook reaches the SUT."""
        if not self.via_gateway:
            event = self.signer.event(order_id=order_id, session_id=session_id,
                                      outcome=outcome, amount=amount)
            answer = self.deliver(event)
            return Delivered(event, answer.status, answer)
        assert self.gateway is not None
        self.gateway.complete(session_id, outcome.value)
        # Still retrying after the timeout: the SUT has not acknowledged it; the order's
        # status (compared next) shows the rest.
        with contextlib.suppress(TimeoutError):
            self.gateway.wait_idle(self.settle_timeout)
        created = [e for e in self.gateway.events(order_id=order_id, kind="event.created")
                   if e.get("session_id") == session_id]
        if not created:
            raise AdapterError(f"the gateway double created no event for session {session_id}")
        entry = created[-1]
        paid = Money(amount.amount, amount.currency)
        event = PaymentEvent(event_id=str(entry["event_id"]), order_id=order_id,
                             session_id=session_id, outcome=PaymentOutcome(entry["outcome"]),
                             amount=paid, created=int(entry["created"]))
        attempts = [a for a in self.gateway.attempts(order_id)
                    if a.get("event_id") == event.event_id]
        status = attempts[-1].get("status") if attempts else None
        return Delivered(event, int(status) if status is not None else None)

    def deliver(self, event: PaymentEvent, forgery: Forgery = "none") -> Outcome:
        body, headers = self.signer.sign(event, forgery)
        return self.adapter.deliver_webhook(body, headers)

    def deliver_concurrently(self, event: PaymentEvent, copies: int) -> list[Outcome | None]:
        """``copies`` deliveries of one event at once, on separate connections (I3). A copy
        whose request failed is None: the SUT may or may not have seen it."""
        signed = [self.signer.sign(event) for _ in range(copies)]

        def send(item: tuple[bytes, Mapping[str, str]]) -> Outcome | None:
            try:
                return self.adapter.deliver_webhook(*item)
            except AdapterError:
                return None

        with concurrent.futures.ThreadPoolExecutor(copies) as pool:
            return list(pool.map(send, signed))

    def later(self, event: PaymentEvent, outcome: PaymentOutcome, *,
              older: bool = False) -> PaymentEvent:
        """A new event about the same session: a contradiction (I4), or, ``older``, one the
        gateway created before the last (a reordered delivery)."""
        created = event.created - 30 if older else int(time.time())
        return self.signer.event(order_id=event.order_id, session_id=event.session_id,
                                 outcome=outcome, amount=event.amount, created=created)
