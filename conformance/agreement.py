"""Does the SUT agree with the model? Comparisons of carts, orders and stock.

Each function returns ``Finding``s named after the invariant the caller attributes the
difference to: the same wrong status is I3 after a redelivery, I4 after a late event and I5
after a forged one; a wrong total is always I6, a wrong stock level always I1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import pairwise
from typing import Any

from conformance.audit import Finding
from reference_impl.domain.cart import Cart
from reference_impl.domain.inventory import StockLevel
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import TRANSITIONS, OrderStatus, is_valid_history


def money(value: Any) -> Money | None:
    if isinstance(value, Mapping) and "amount" in value and "currency" in value:
        try:
            return Money(int(value["amount"]), str(value["currency"]).upper())
        except (TypeError, ValueError):
            return None
    return None


def timestamp(value: Any) -> float | None:
    """Unix seconds from either shape an order gives: ISO 8601 (the buyer's view) or a
    number (the admin list)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def _fmt(money_value: Money | None) -> str:
    return "?" if money_value is None else f"{money_value.amount} {money_value.currency}"


def history_statuses(order: Mapping[str, Any]) -> list[str]:
    """The statuses of an order's history, from either shape: the buyer's view (entries
    with ``status``) or the admin list (bare statuses)."""
    return [str(h["status"]) if isinstance(h, Mapping) else str(h)
            for h in order.get("history") or []]


def check_history(order: Mapping[str, Any], subject: str, invariant: str = "I2") -> list[Finding]:
    """I2 on one observation: the history is a legal path that ends in the status shown."""
    statuses = history_statuses(order)
    try:
        path = [OrderStatus(s) for s in statuses]
    except ValueError:
        return [Finding(invariant, subject, f"history {' -> '.join(statuses)} has an unknown "
                                            "status")]
    findings = []
    if not is_valid_history(path):
        findings.append(Finding(invariant, subject,
                                f"history {' -> '.join(statuses)} is not a legal path"))
    if statuses and str(order.get("status")) != statuses[-1]:
        findings.append(Finding(invariant, subject, f"status {order.get('status')} is not the "
                                                    f"last entry of its history {statuses}"))
    return findings


def reachable(source: OrderStatus, target: OrderStatus) -> bool:
    """Whether ``target`` can follow ``source`` through zero or more moves of the table."""
    frontier, seen = [source], {source}
    while frontier:
        status = frontier.pop()
        if status is target:
            return True
        for (src, _), dst in TRANSITIONS.items():
            if src is status and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    return False


def check_sequence(seen: list[str], subject: str, invariant: str = "I2") -> list[Finding]:
    """I2 across observations: each status seen can follow the one seen before it (the
    steps between two looks may be several), so a terminal status never changes."""
    try:
        path = [OrderStatus(s) for s in seen]
    except ValueError:
        return []
    for before, after in pairwise(path):
        if not reachable(before, after):
            return [Finding(invariant, subject, f"observed {' -> '.join(seen)} over time")]
    return []


def lines_of_cart(cart: Mapping[str, Any]) -> dict[str, tuple[str, int, Money | None]]:
    return {str(ln["variant_id"]): (str(ln["location_id"]), int(ln["quantity"]),
                                    money(ln.get("unit_price")))
            for ln in cart.get("lines") or []}


def compare_cart(sut: Mapping[str, Any], model: Cart | None, subject: str,
                 invariant: str) -> list[Finding]:
    got = lines_of_cart(sut)
    want = {} if model is None else {
        v: (ln.location_id, ln.quantity, ln.unit_price) for v, ln in model.lines.items()}
    if got == want:
        return []

    def show(lines: Mapping[str, tuple[str, int, Money | None]]) -> str:
        return ", ".join(f"{q} x {v}@{loc} at {_fmt(p)}" for v, (loc, q, p) in
                         sorted(lines.items())) or "nothing"

    return [Finding(invariant, subject, f"cart holds {show(got)}; expected {show(want)}")]


def compare_order(sut: Mapping[str, Any], model: Order, subject: str,
                  status_invariant: str) -> list[Finding]:
    """Status and history (``status_invariant``), and money and lines (always I6)."""
    findings = check_history(sut, subject)
    statuses = history_statuses(sut)
    want_history = [h.status.value for h in model.history]
    if str(sut.get("status")) != model.status.value:
        findings.append(Finding(status_invariant, subject,
                                f"status {sut.get('status')}, expected {model.status.value} "
                                f"(history {' -> '.join(statuses)})"))
    elif statuses and statuses != want_history:
        findings.append(Finding(status_invariant, subject,
                                f"history {' -> '.join(statuses)}, expected "
                                f"{' -> '.join(want_history)}"))
    total = money(sut.get("total"))
    if total is not None and total != model.total:
        findings.append(Finding("I6", subject,
                                f"total {_fmt(total)}, expected {_fmt(model.total)}"))
    if sut.get("lines") is not None:
        got = sorted((str(ln["variant_id"]), str(ln["location_id"]), int(ln["quantity"]),
                      _fmt(money(ln.get("unit_price")))) for ln in sut["lines"])
        want = sorted((ln.variant_id, ln.location_id, ln.quantity, _fmt(ln.unit_price))
                      for ln in model.lines)
        if got != want:
            findings.append(Finding("I6", subject, f"lines {got}, expected {want}"))
    return findings


def check_money(order: Mapping[str, Any], subject: str) -> list[Finding]:
    """I6 within one order: total = sum of quantity x unit price, each subtotal too."""
    total = money(order.get("total"))
    lines = order.get("lines")
    if total is None or not isinstance(lines, list):
        return []
    findings = []
    amount = 0
    for line in lines:
        price = money(line.get("unit_price"))
        if price is None:
            continue
        amount += price.amount * int(line.get("quantity", 0))
        subtotal = money(line.get("subtotal"))
        if subtotal is not None and subtotal.amount != price.amount * int(line["quantity"]):
            findings.append(Finding("I6", subject, f"line {line.get('variant_id')}: subtotal "
                                                   f"{_fmt(subtotal)} is not quantity x price"))
    if lines and amount != total.amount:
        findings.append(Finding("I6", subject, f"total {_fmt(total)} is not the sum of its "
                                               f"lines ({amount})"))
    return findings


def compare_stock(sut_levels: Iterable[Mapping[str, Any]],
                  model: Mapping[tuple[str, str], StockLevel],
                  invariant: str = "I1") -> list[Finding]:
    got = {(str(s["variant_id"]), str(s["location_id"])): s for s in sut_levels}
    findings = []
    for key, level in sorted(model.items()):
        sut = got.get(key)
        want = {"on_hand": level.on_hand, "reserved": level.reserved, "sold": level.sold}
        have = {b: int(sut[b]) for b in want} if sut else None
        if have != want:
            findings.append(Finding(invariant, f"{key[0]}@{key[1]}",
                                    f"stock {have}, expected {want}"))
    return findings
