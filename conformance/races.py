"""The concurrent checks: scheduled races, recorded as histories and checked afterwards.

Each race resets the shop, prepares what it needs one request at a time, then releases its
clients together (a barrier) and records every operation in a ``History``. The checker
then reads the shop at rest and judges the history against it, the way Jepsen does: an
``ok`` operation happened, a ``fail`` one did not, an ``info`` one may have.

* last units: more buyers than units order (and pay for) the same variant at once (I1);
* duplicate webhooks: one event delivered by several clients at once (I3, I7);
* one idempotency key: the same order request sent by several clients at once (I9);
* payment against expiry: the success webhook lands around the reservation's expiry (I2,
  I11, I1); only when the shop's TTL is short enough to wait out.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.adapters.base import Outcome
from conformance.agreement import check_history, check_money, timestamp
from conformance.audit import Finding, audit_holdings, audit_stock
from conformance.history import History
from conformance.machine import GOOD_CARD
from conformance.target import Target
from reference_impl.domain.money import Money
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import PaymentMode


@dataclass
class RaceResult:
    name: str
    invariants: tuple[str, ...]
    history: History | None = None
    findings: list[Finding] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0
    summary: dict[str, Any] = field(default_factory=dict)


def _together(actions: list[Callable[[], Any]]) -> list[Any]:
    """Run the actions on their own threads, released at the same instant."""
    barrier = threading.Barrier(len(actions))

    def run(action: Callable[[], Any]) -> Any:
        barrier.wait()
        return action()

    with concurrent.futures.ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(run, actions))


class Races:
    def __init__(self, target: Target, *, clients: int = 6, email_timeout: float = 5.0) -> None:
        self.target = target
        self.adapter = target.adapter
        self.policies = target.policies
        self.clients = clients
        self.email_timeout = email_timeout
        self.hosted = self.policies.payment_mode is PaymentMode.HOSTED_CHECKOUT

    # -- shared steps ---------------------------------------------------------------------------

    def _stocked(self) -> tuple[str, str, int]:
        deliverable = {v.variant_id for p in self.target.setup.products for v in p.variants
                       if v.deliverable}
        for variant_id, location_id, quantity in self.target.setup.stock:
            if variant_id in deliverable and quantity > 0:
                return variant_id, location_id, quantity
        raise LookupError("the scenario stocks no deliverable variant")

    def _buyer(self, index: int) -> str:
        buyers = self.target.active_buyers
        return buyers[index % len(buyers)]

    def _cart(self, buyer: str, variant_id: str, location_id: str, quantity: int) -> str:
        created = self.adapter.create_cart(buyer)
        if not created.ok:
            raise RuntimeError(f"the shop refused a cart: {created.code}")
        cart_id = self.adapter.cart_id(created)
        line = self.adapter.set_line(buyer, cart_id, variant_id, location_id, quantity)
        if not line.ok:
            raise RuntimeError(f"the shop refused {quantity} x {variant_id}: {line.code}")
        return cart_id

    def _method(self) -> str | None:
        return None if self.hosted else GOOD_CARD

    def _session(self, buyer: str, order: dict[str, Any]) -> str | None:
        session = (order.get("payment") or {}).get("session_id")
        if session:
            return str(session)
        link = self.adapter.payment_link(buyer, str(order["order_id"]))
        return str(link.body["session_id"]) if link.ok and link.body.get("session_id") else None

    def _settle(self) -> None:
        gateway = self.target.gateway
        if gateway is not None and self.target.via_gateway:
            gateway.wait_idle(self.target.settle_timeout)
        time.sleep(0.2)

    def _at_rest(self, result: RaceResult, *, emails: bool = True) -> list[dict[str, Any]]:
        """The checks every race ends with: stock conserved against what the harness put in,
        buckets matching the orders that hold stock, legal histories, consistent money."""
        orders = self.adapter.orders()
        levels = self.adapter.stock()
        result.findings += audit_stock(levels, orders, self.target.received())
        result.findings += audit_holdings(levels, orders, self.policies.stock_commit)
        for order in orders:
            result.findings += check_history(order, str(order["order_id"]))
            result.findings += check_money(order, str(order["order_id"]))
        if emails and self.policies.send_confirmation_email:
            result.findings += self._emails(orders)
        return orders

    def _emails(self, orders: list[dict[str, Any]]) -> list[Finding]:
        if self.adapter.mailbox is None:
            return []
        paid = [str(o["order_id"]) for o in orders if o["status"] == OrderStatus.PAID]
        deadline = time.monotonic() + self.email_timeout
        while time.monotonic() < deadline and any(
                len(self.adapter.emails(o)) < 1 for o in paid):
            time.sleep(0.05)
        time.sleep(0.15)
        findings = []
        for order in orders:
            order_id = str(order["order_id"])
            got = len(self.adapter.emails(order_id))
            want = 1 if order["status"] == OrderStatus.PAID else 0
            if got != want:
                findings.append(Finding("I7", order_id, f"{got} confirmation emails for a "
                                                        f"{order['status']} order, expected "
                                                        f"{want}"))
        return findings

    # -- the races --------------------------------------------------------------------------------

    def last_units(self) -> RaceResult:
        """More buyers than units, all at once: orders (and payments) for the last units."""
        result = RaceResult("last units", ("I1", "I10", "I2"))
        history = result.history = History("last-units")
        self.target.reset()
        variant_id, location_id, units = self._stocked()
        carts = [(self._buyer(i), self._cart(self._buyer(i), variant_id, location_id, 1))
                 for i in range(units + 2)]

        def order(process: int, buyer: str, cart_id: str) -> Callable[[], Outcome | None]:
            return lambda: history.call(
                process, "create_order", {"cart": cart_id},
                lambda: self.adapter.place_order(buyer, cart_id, payment_method=self._method()))

        outcomes = _together([order(i, b, c) for i, (b, c) in enumerate(carts)])
        placed = [(carts[i][0], self.adapter.order_of(o)) for i, o in enumerate(outcomes)
                  if o is not None and o.ok]
        if self.hosted:
            payable = [(b, o, self._session(b, o)) for b, o in placed]

            def pay(process: int, order: dict[str, Any], session: str) -> Callable[[], Any]:
                total = Money(int(order["total"]["amount"]), str(order["total"]["currency"]))

                def act() -> Outcome:
                    delivered = self.target.payments.complete(
                        order_id=str(order["order_id"]), session_id=session,
                        outcome=PaymentOutcome.SUCCEEDED, amount=total)
                    if delivered.outcome is not None:
                        return delivered.outcome
                    return Outcome(delivered.status is not None and
                                   200 <= delivered.status < 300, delivered.status or 0)

                return lambda: history.call(process, "pay", {"order": order["order_id"]}, act,
                                            server_error_is="fail")

            _together([pay(i, o, s) for i, (_, o, s) in enumerate(payable) if s])
        self._settle()
        orders = self._at_rest(result)
        ok_creates = history.count("ok", "create_order")
        info_creates = history.count("info", "create_order")
        if not ok_creates <= len(orders) <= ok_creates + info_creates:
            result.findings.append(Finding(
                "I10", "orders", f"{len(orders)} orders exist after {ok_creates} acknowledged "
                                 f"and {info_creates} unknown order requests"))
        paid_units = sum(int(ln["quantity"]) for o in orders if o["status"] == OrderStatus.PAID
                         for ln in o.get("lines", []))
        if paid_units > units:
            result.findings.append(Finding("I1", f"{variant_id}@{location_id}",
                                           f"{paid_units} units paid for, {units} in stock"))
        refunded = [o for o in orders if o["status"] == OrderStatus.REFUNDED]
        if refunded and not self.target.scenario.refunds_expected():
            result.findings.append(Finding("I1", f"{variant_id}@{location_id}",
                                           f"{len(refunded)} paid orders refunded for lack of "
                                           "stock; the profile never oversells"))
        result.summary = {"units": units, "clients": len(carts), "orders": len(orders),
                          "paid": sum(o["status"] == OrderStatus.PAID for o in orders),
                          "refunded": len(refunded)}
        return result

    def duplicate_webhooks(self) -> RaceResult:
        """One payment event, delivered by several clients at once."""
        result = RaceResult("concurrent duplicate webhooks", ("I3", "I7", "I1"))
        if not self.hosted:
            result.skipped = "synchronous payment: the profile has no webhooks"
            return result
        history = result.history = History("duplicate-webhooks")
        self.target.reset()
        variant_id, location_id, _ = self._stocked()
        buyer = self._buyer(0)
        cart_id = self._cart(buyer, variant_id, location_id, 1)
        placed = self.adapter.place_order(buyer, cart_id)
        if not placed.ok:
            raise RuntimeError(f"the shop refused the race's order: {placed.code}")
        order = self.adapter.order_of(placed)
        session = self._session(buyer, order) or "cs_unknown"
        total = Money(int(order["total"]["amount"]), str(order["total"]["currency"]))
        event = self.target.payments.signer.event(
            order_id=str(order["order_id"]), session_id=session,
            outcome=PaymentOutcome.SUCCEEDED, amount=total)

        def deliver(process: int) -> Callable[[], Any]:
            body, headers = self.target.payments.signer.sign(event)
            return lambda: history.call(process, "deliver", {"event": event.event_id},
                                        lambda: self.adapter.deliver_webhook(body, headers),
                                        server_error_is="fail")

        _together([deliver(i) for i in range(self.clients)])
        self._settle()
        orders = self._at_rest(result)
        mine = next((o for o in orders if o["order_id"] == order["order_id"]), None)
        acknowledged = history.count("ok", "deliver")
        refused = [op for op in history.completions("deliver") if op.type == "fail"
                   and op.value.get("status", 0) < 500]
        for op in refused:
            result.findings.append(Finding("I3", event.event_id, f"an authentic copy was "
                                                                 f"refused: {op.value}"))
        if mine is None:
            result.findings.append(Finding("I3", str(order["order_id"]), "the order vanished"))
        else:
            statuses = [str(h) if not isinstance(h, dict) else str(h["status"])
                        for h in mine.get("history", [])]
            if acknowledged and mine["status"] != OrderStatus.PAID:
                result.findings.append(Finding("I3", str(order["order_id"]),
                                               f"{acknowledged} copies acknowledged, status "
                                               f"{mine['status']}"))
            if statuses.count(OrderStatus.PAID.value) > 1:
                result.findings.append(Finding("I3", str(order["order_id"]),
                                               f"history {statuses}: paid more than once"))
        result.findings = [Finding("I3", f.subject, f.message) if f.invariant in ("I1", "I7")
                           else f for f in result.findings]
        result.summary = {"copies": self.clients, "acknowledged": acknowledged,
                          "status": mine["status"] if mine else None}
        return result

    def same_key_orders(self) -> RaceResult:
        """The same order request, with one Idempotency-Key, from several clients at once."""
        result = RaceResult("one idempotency key", ("I9", "I1"))
        history = result.history = History("one-idempotency-key")
        self.target.reset()
        variant_id, location_id, _ = self._stocked()
        buyer = self._buyer(0)
        cart_id = self._cart(buyer, variant_id, location_id, 1)
        key = f"pf-race-key-{time.time_ns()}"

        def order(process: int) -> Callable[[], Any]:
            return lambda: history.call(
                process, "create_order", {"cart": cart_id, "key": key},
                lambda: self.adapter.place_order(buyer, cart_id, idempotency_key=key,
                                                 payment_method=self._method()))

        _together([order(i) for i in range(self.clients)])
        self._settle()
        orders = self._at_rest(result, emails=False)
        ids = {op.value.get("order_id") for op in history.completions("create_order")
               if op.type == "ok"}
        if len(ids) > 1:
            result.findings.append(Finding("I9", key, f"one key gave {len(ids)} different "
                                                      f"orders: {sorted(map(str, ids))}"))
        unknown = history.count("info", "create_order")
        if len(orders) > 1 or (len(orders) == 1 and not ids and not unknown):
            result.findings.append(Finding("I9", key, f"{len(orders)} orders exist for one "
                                                      "key and body"))
        result.summary = {"clients": self.clients, "orders": len(orders),
                          "order_ids": sorted(map(str, ids))}
        return result

    def payment_against_expiry(self, window: float) -> RaceResult:
        """Success webhooks timed around the reservation's expiry (before, at, after)."""
        result = RaceResult("payment against reservation expiry", ("I2", "I11", "I1", "I7"))
        ttl = self.policies.reservation_ttl
        if not self.hosted:
            result.skipped = "synchronous payment: nothing waits for a webhook"
            return result
        if ttl is None:
            result.skipped = "no reservation TTL: orders never expire"
            return result
        history = result.history = History("payment-against-expiry")
        self.target.reset()
        variant_id, location_id, units = self._stocked()
        offsets = (-0.4, -0.1, 0.0, 0.15, 0.5)[:max(1, units)]
        placed: list[tuple[str, dict[str, Any], str]] = []
        for i in range(len(offsets)):
            buyer = self._buyer(i)
            answer = self.adapter.place_order(buyer, self._cart(buyer, variant_id, location_id,
                                                                1))
            if answer.ok:
                order = self.adapter.order_of(answer)
                placed.append((buyer, order, self._session(buyer, order) or "cs_unknown"))
        expiries = [timestamp(o.get("expires_at")) for _, o, _ in placed]
        if not placed or any(e is None for e in expiries):
            result.skipped = "the shop's orders carry no expires_at"
            return result
        wait = max(e for e in expiries if e is not None) - time.time()
        if wait > window:
            result.skipped = (f"reservation TTL {ttl:g} s is longer than this run's expiry "
                              f"window ({window:g} s); start the shop with a shorter TTL to "
                              "check I11 and this race")
            return result

        def pay_at(process: int, order: dict[str, Any], session: str, expiry: float) -> Any:
            total = Money(int(order["total"]["amount"]), str(order["total"]["currency"]))
            event = self.target.payments.signer.event(
                order_id=str(order["order_id"]), session_id=session,
                outcome=PaymentOutcome.SUCCEEDED, amount=total)

            def act() -> Any:
                time.sleep(max(0.0, expiry + offsets[process] - time.time()))
                # Signed when sent: a webhook signed at order time would be stale by now.
                body, headers = self.target.payments.signer.sign(event)
                return history.call(process, "deliver", {"order": order["order_id"],
                                                         "offset": offsets[process]},
                                    lambda: self.adapter.deliver_webhook(body, headers),
                                    server_error_is="fail")

            return act

        actions = [pay_at(i, o, s, expiries[i] or 0.0) for i, (_, o, s) in enumerate(placed)]
        with concurrent.futures.ThreadPoolExecutor(len(actions)) as pool:
            list(pool.map(lambda a: a(), actions))
        grace = 2.0 + self.target.settle_timeout / 5
        time.sleep(max(0.0, max(e or 0.0 for e in expiries) + grace - time.time()))
        self._settle()
        orders = self._at_rest(result)
        for order in orders:
            if order["status"] == OrderStatus.PENDING_PAYMENT:
                result.findings.append(Finding("I11", str(order["order_id"]),
                                               f"still pending_payment {grace:g} s after its "
                                               "expiry"))
        result.summary = {"ttl": ttl, "outcomes": {str(o["order_id"]): o["status"]
                                                   for o in orders}}
        return result

