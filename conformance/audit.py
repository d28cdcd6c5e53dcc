"""The invariant audit of a shop's final state (DESIGN.md section 5).

Run after a conformance race, after every load run, and by the demo: whatever the path
that led here, a shop at rest must satisfy these. Each finding names its invariant.

* I1 no oversell: per variant and location, no bucket is negative and
  ``received == on_hand + reserved + sold``; units in paid orders never exceed received;
  the units the live orders hold are the ones the buckets count (``audit_holdings``).
  ``received`` may come from the harness's own ledger rather than from the shop's word.
* I2 status order: every history is a path through the core's transition table.
* I7 exactly-once effects: one confirmation email per paid order, none otherwise.
* I11 liveness: no order is still ``pending_payment`` past its expiry plus a grace period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reference_impl.domain.order_status import OrderStatus, is_valid_history
from reference_impl.domain.policies import StockCommitPoint


@dataclass(frozen=True, slots=True)
class Finding:
    invariant: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.invariant} {self.subject}: {self.message}"


def audit_stock(levels: Iterable[Mapping[str, Any]],
                orders: Iterable[Mapping[str, Any]],
                received_by_harness: Mapping[tuple[str, str], int] | None = None,
                ) -> list[Finding]:
    """``received_by_harness``: what the harness itself put in; without it, the shop's own
    ``received`` counters are believed."""
    findings: list[Finding] = []
    received: dict[tuple[str, str], int] = {}
    for level in levels:
        key = (str(level["variant_id"]), str(level["location_id"]))
        subject = f"{key[0]}@{key[1]}"
        received[key] = int(level["received"])
        if received_by_harness is not None:
            received[key] = received_by_harness.get(key, 0)
        for bucket in ("on_hand", "reserved", "sold"):
            if level[bucket] < 0:
                findings.append(Finding("I1", subject, f"{bucket} is {level[bucket]}"))
        if received[key] != level["on_hand"] + level["reserved"] + level["sold"]:
            findings.append(Finding(
                "I1", subject,
                f"received {received[key]} != on_hand {level['on_hand']} + reserved "
                f"{level['reserved']} + sold {level['sold']} (stock not conserved)"))
    paid_units: dict[tuple[str, str], int] = defaultdict(int)
    for order in orders:
        if order["status"] == OrderStatus.PAID:
            for line in order.get("lines", []):
                paid_units[(line["variant_id"], line["location_id"])] += int(line["quantity"])
    for key, units in paid_units.items():
        if units > received.get(key, 0):
            findings.append(Finding("I1", f"{key[0]}@{key[1]}",
                                    f"{units} units in paid orders, only {received.get(key, 0)} "
                                    "ever received (oversold)"))
    return findings


#: Where a live order's units sit, per commit point and status (DESIGN.md section 3).
_HELD_IN: dict[StockCommitPoint, dict[str, str]] = {
    StockCommitPoint.AT_ORDER: {"pending_payment": "sold", "paid": "sold"},
    StockCommitPoint.RESERVE: {"pending_payment": "reserved", "paid": "sold"},
    # A refunded on_payment order found no stock when paid: it holds none.
    StockCommitPoint.ON_PAYMENT: {"paid": "sold"},
}


def audit_holdings(levels: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]],
                   stock_commit: StockCommitPoint) -> list[Finding]:
    """I1 from the orders' side: the reserved and sold buckets hold exactly the units of the
    orders that hold stock. Two orders that both got the last unit show up here even when
    a lost update kept the counters balanced."""
    held: dict[tuple[str, str, str], int] = defaultdict(int)
    for order in orders:
        bucket = _HELD_IN[stock_commit].get(str(order["status"]))
        if bucket is None:
            continue
        for line in order.get("lines", []):
            held[(str(line["variant_id"]), str(line["location_id"]), bucket)] += int(
                line["quantity"])
    findings = []
    for level in levels:
        key = (str(level["variant_id"]), str(level["location_id"]))
        for bucket in ("reserved", "sold"):
            want = held.get((*key, bucket), 0)
            if int(level[bucket]) != want:
                findings.append(Finding(
                    "I1", f"{key[0]}@{key[1]}",
                    f"{bucket} is {level[bucket]} but the orders holding stock "
                    f"({stock_commit.value}) account for {want}"))
    return findings


def audit_statuses(orders: Iterable[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for order in orders:
        history = [str(s) for s in order["history"]]
        try:
            path = [OrderStatus(s) for s in history]
        except ValueError:
            findings.append(Finding("I2", str(order["order_id"]),
                                    f"history {' -> '.join(history)} has an unknown status"))
            continue
        if not is_valid_history(path):
            findings.append(Finding("I2", str(order["order_id"]),
                                    f"history {' -> '.join(history)} is not a legal path"))
    return findings


def audit_emails(orders: Iterable[Mapping[str, Any]],
                 emails_by_order: Mapping[str, int]) -> list[Finding]:
    findings = []
    known = set()
    for order in orders:
        order_id = str(order["order_id"])
        known.add(order_id)
        got = emails_by_order.get(order_id, 0)
        # A paid order later refunded was never confirmed as sold: no email is owed.
        want = 1 if order["status"] == OrderStatus.PAID else 0
        if got != want:
            findings.append(Finding("I7", order_id,
                                    f"{got} confirmation emails for a {order['status']} order, "
                                    f"expected {want}"))
    for order_id, got in emails_by_order.items():
        if order_id not in known and got:
            findings.append(Finding("I7", order_id, f"{got} emails for an order the shop "
                                                   "does not have"))
    return findings


def audit_liveness(orders: Iterable[Mapping[str, Any]], now: float,
                   grace: float) -> list[Finding]:
    findings = []
    for order in orders:
        expires = order.get("expires_at")
        if order["status"] == OrderStatus.PENDING_PAYMENT and expires is not None and (
                now > float(expires) + grace):
            findings.append(Finding("I11", str(order["order_id"]),
                                    f"still pending_payment {now - float(expires):.1f} s after "
                                    "its expiry"))
    return findings


def audit(
    levels: Iterable[Mapping[str, Any]],
    orders: Iterable[Mapping[str, Any]],
    *,
    emails_by_order: Mapping[str, int] | None = None,
    now: float | None = None,
    grace: float = 10.0,
    stock_commit: StockCommitPoint | None = None,
    received_by_harness: Mapping[tuple[str, str], int] | None = None,
) -> list[Finding]:
    """Every finding on a shop at rest. ``emails_by_order`` None skips I7; ``now`` None, I11;
    ``stock_commit`` None, the holdings check."""
    orders, levels = list(orders), list(levels)
    findings = audit_stock(levels, orders, received_by_harness) + audit_statuses(orders)
    if stock_commit is not None:
        findings += audit_holdings(levels, orders, stock_commit)
    if emails_by_order is not None:
        findings += audit_emails(orders, emails_by_order)
    if now is not None:
        findings += audit_liveness(orders, now, grace)
    return findings
