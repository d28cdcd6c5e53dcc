"""After every load run: let the shop come to rest, then audit it (DESIGN.md sections 5, 9).

A run ends with webhooks still in flight, emails still in the shop's outbox and unpaid
orders still holding stock. Judging at once would blame the shop for being slow, so the
audit first waits, never longer than ``settle_timeout`` in all:

1. until the gateway double is idle (every webhook delivered or abandoned);
2. until every paid order has its confirmation email (when the profile sends one);
3. until every unpaid order that expires within the wait has left ``pending_payment`` or
   overstayed its expiry by ``grace`` (then it is stuck: I11).

Then a short quiet period (a second email would arrive in it), one last snapshot, and
``conformance.audit``: I1 no oversell and stock conserved, I2 legal status paths, I7 one
email per paid order, I11 nothing stuck past its expiry. An unpaid order whose expiry lies
beyond the wait cannot be judged yet; the report counts those. And I9 as a load can see it:
every session of the load checks its own new cart out once, so a cart with two orders is a
checkout the shop ran twice (a retry, ``--retries``, that made a second order where the
same Idempotency-Key should have answered with the first). It needs the orders' ``cart_id``,
which not every adapter reports.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.adapters import ShopAdapter
from conformance.audit import Finding, audit
from reference_impl.domain.order_status import OrderStatus
from scenarios.schema import Scenario

#: The invariants a shop at rest can show; the others need the run's history (conformance).
AUDITED = ("I1", "I2", "I7", "I9", "I11")
DESCRIPTIONS = {
    "I1": "no oversell, stock conserved",
    "I2": "only legal status paths",
    "I7": "one confirmation email per paid order",
    "I9": "one order per checkout, retries included",
    "I11": "nothing stuck in pending_payment past its expiry",
}
POLL_SECONDS = 0.25


@dataclass
class AuditReport:
    findings: list[Finding]
    checked: tuple[str, ...]
    skipped: dict[str, str]
    statuses: Counter[str] = field(default_factory=Counter)
    emails: int = 0
    not_yet_due: int = 0
    waited: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": list(self.checked),
            "skipped": self.skipped,
            "findings": [{"invariant": f.invariant, "subject": f.subject, "message": f.message}
                         for f in self.findings],
            "orders": dict(self.statuses),
            "emails": self.emails,
            "not_yet_due": self.not_yet_due,
            "waited_seconds": round(self.waited, 2),
            "notes": self.notes,
        }


def invariants_in_scope(scenario: Scenario, *,
                        mail: bool) -> tuple[tuple[str, ...], dict[str, str]]:
    """Which of ``AUDITED`` this run checks, and why it skips the others."""
    applicable = set(scenario.applicable_invariants())
    wanted = set(scenario.invariants_to_check())
    checked: list[str] = []
    skipped: dict[str, str] = {}
    for inv in AUDITED:
        if inv not in applicable:
            skipped[inv] = "not applicable to this profile"
        elif inv not in wanted:
            skipped[inv] = "left out by the scenario's invariants.check"
        elif inv == "I7" and not scenario.profile.policies.send_confirmation_email:
            skipped[inv] = "the profile sends no confirmation email"
        elif inv == "I7" and not mail:
            skipped[inv] = "no mail sink to read the emails from"
        else:
            checked.append(inv)
    return tuple(checked), skipped


class _Observer:
    """Reads the shop (through its adapter), the gateway double and the mail sink."""

    def __init__(self, adapter: ShopAdapter, gateway_url: str | None,
                 mail_url: str | None) -> None:
        self.adapter = adapter
        self.http = httpx.Client(timeout=10.0, trust_env=False)
        self.gateway_url = gateway_url
        self.mail_url = mail_url

    def gateway_idle(self) -> bool:
        if self.gateway_url is None:
            return True
        return bool(self.http.get(f"{self.gateway_url}/_control/status").json()["idle"])

    def emails_by_order(self) -> Counter[str]:
        if self.mail_url is None:
            return Counter()
        data = self.http.get(f"{self.mail_url}/messages").json()["data"]
        return Counter(str(m["order_id"]) for m in data if m.get("order_id"))

    def close(self) -> None:
        self.http.close()


def _still_waiting(orders: Sequence[Mapping[str, Any]], emails: Mapping[str, int] | None,
                   now: float, deadline: float, grace: float | None) -> bool:
    """Is something owed that may still come before the deadline? ``grace`` None: I11 is
    not checked, so unpaid orders are not waited for."""
    for order in orders:
        if emails is not None and order["status"] == OrderStatus.PAID and not emails.get(
                str(order["order_id"])):
            return True
        expires = order.get("expires_at")
        if grace is not None and order["status"] == OrderStatus.PENDING_PAYMENT and (
                expires is not None):
            judged_at = float(expires) + grace
            if now <= judged_at <= deadline:
                return True
    return False


def audit_one_order_per_checkout(orders: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """I9 under the load's own workload, where each cart is checked out once."""
    by_cart = Counter(str(order["cart_id"]) for order in orders)
    return [
        Finding("I9", cart, f"{count} orders from one checkout of this cart: a retry under "
                            "the same Idempotency-Key must answer with the first order")
        for cart, count in sorted(by_cart.items()) if count > 1
    ]


def settle_and_audit(
    adapter: ShopAdapter,
    scenario: Scenario,
    *,
    gateway_url: str | None,
    mail_url: str | None,
    settle_timeout: float = 60.0,
    grace: float = 10.0,
    quiet: float = 0.5,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> AuditReport:
    checked, skipped = invariants_in_scope(scenario, mail=mail_url is not None)
    observer = _Observer(adapter, gateway_url, mail_url)
    started = clock()
    deadline = started + settle_timeout
    notes: list[str] = []
    try:
        while not observer.gateway_idle():
            if clock() >= deadline:
                notes.append(f"the gateway double was still delivering after {settle_timeout:g} s")
                break
            sleep(POLL_SECONDS)
        want_emails = "I7" in checked
        while True:
            orders = adapter.orders()
            emails = observer.emails_by_order() if want_emails else None
            now = clock()
            if now >= deadline or not _still_waiting(orders, emails, now, deadline,
                                                     grace if "I11" in checked else None):
                break
            sleep(POLL_SECONDS)
        sleep(quiet)
        levels = adapter.stock()
        orders = adapter.orders()
        emails = observer.emails_by_order() if want_emails else None
        now = clock()
    finally:
        observer.close()
    if "I9" in checked and any("cart_id" not in order for order in orders):
        checked = tuple(inv for inv in checked if inv != "I9")
        skipped = {**skipped, "I9": "the adapter's orders carry no cart_id"}
    findings = audit(levels, orders, emails_by_order=emails,
                     now=now if "I11" in checked else None, grace=grace)
    if "I9" in checked:
        findings += audit_one_order_per_checkout(orders)
    findings = [f for f in findings if f.invariant in checked]
    not_yet_due = sum(
        1 for o in orders
        if o["status"] == OrderStatus.PENDING_PAYMENT and o.get("expires_at") is not None
        and float(o["expires_at"]) + grace >= now
    )
    if not_yet_due and "I11" in checked:
        notes.append(f"{not_yet_due} unpaid orders expire after the audit's wait; "
                     "I11 could not judge them yet")
    return AuditReport(
        findings=findings,
        checked=checked,
        skipped=skipped,
        statuses=Counter(str(o["status"]) for o in orders),
        emails=sum(emails.values()) if emails is not None else 0,
        not_yet_due=not_yet_due,
        waited=clock() - started,
        notes=notes,
    )
