"""The audit after a run (``load/after_run.py``): how long it waits, and what it judges.

A fake shop and a fake clock: the shop's orders change as the clock moves, the way a real
shop's sweep cancels expired orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from load.after_run import invariants_in_scope, settle_and_audit
from scenarios import load_scenario
from tests.load.conftest import SCENARIO

SCENARIO_SMALL = load_scenario(SCENARIO)
LEVELS = [{"variant_id": "mug", "location_id": "main", "on_hand": 9, "reserved": 1, "sold": 0,
           "received": 10}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeShop:
    """``orders()`` asks ``script(now)``: the shop as it is at that moment."""

    def __init__(self, clock: Clock, script: Callable[[float], list[dict[str, Any]]]) -> None:
        self.clock, self.script = clock, script

    def orders(self) -> list[dict[str, Any]]:
        return self.script(self.clock.now)

    def stock(self) -> list[dict[str, Any]]:
        return LEVELS


def pending(expires_at: float) -> dict[str, Any]:
    return {"order_id": "ord_1", "status": "pending_payment", "history": ["pending_payment"],
            "lines": [{"variant_id": "mug", "location_id": "main", "quantity": 1}],
            "expires_at": expires_at}


def cancelled() -> dict[str, Any]:
    return {"order_id": "ord_1", "status": "cancelled",
            "history": ["pending_payment", "cancelled"], "lines": [], "expires_at": None}


def audit(shop: FakeShop, clock: Clock, timeout: float = 30.0) -> Any:
    return settle_and_audit(shop, SCENARIO_SMALL, gateway_url=None, mail_url=None,  # type: ignore[arg-type]
                            settle_timeout=timeout, grace=3.0, clock=clock, sleep=clock.sleep)


def test_the_audit_waits_for_an_order_about_to_expire() -> None:
    clock = Clock()
    levels_released = [{**LEVELS[0], "on_hand": 10, "reserved": 0}]
    shop = FakeShop(clock, lambda now: [pending(1004.0)] if now < 1005.5 else [cancelled()])
    shop.stock = lambda: levels_released  # type: ignore[method-assign]
    report = audit(shop, clock)
    assert report.ok, report.findings
    assert 5.5 <= report.waited < 7 and report.statuses == {"cancelled": 1}


def test_an_order_stuck_past_its_expiry_and_grace_breaks_i11() -> None:
    clock = Clock()
    report = audit(FakeShop(clock, lambda now: [pending(1004.0)]), clock)
    assert [f.invariant for f in report.findings] == ["I11"]
    assert 7 <= report.waited < 9  # expiry (4 s) + grace (3 s), then judged


def test_orders_expiring_after_the_wait_are_counted_not_judged() -> None:
    clock = Clock()
    report = audit(FakeShop(clock, lambda now: [pending(5000.0)]), clock, timeout=10)
    assert report.ok and report.not_yet_due == 1
    assert report.waited < 2  # nothing to wait for
    assert any("could not judge" in note for note in report.notes)


def test_which_invariants_a_run_checks() -> None:
    checked, skipped = invariants_in_scope(SCENARIO_SMALL, mail=True)
    assert checked == ("I1", "I2", "I7", "I9", "I11") and not skipped
    checked, skipped = invariants_in_scope(SCENARIO_SMALL, mail=False)
    assert "I7" not in checked and "mail sink" in skipped["I7"]
    # Seed 003 sends no email (and pays synchronously: nothing waits for a webhook).
    seed_003 = load_scenario(SCENARIO.parents[2] / "scenarios/seeds/seed_003_browse_and_buy.yaml")
    checked, skipped = invariants_in_scope(seed_003, mail=True)
    assert checked == ("I1", "I2", "I9", "I11") and set(skipped) == {"I7"}


def cancelled_of_cart(order_id: str, cart_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "cart_id": cart_id, "status": "cancelled",
            "history": ["pending_payment", "cancelled"], "lines": [], "expires_at": None}


def test_two_orders_from_one_checkout_break_i9() -> None:
    """Every session of a load checks its own new cart out once: a second order of a cart
    is a retry that the shop ran again instead of answering with the first order."""
    clock = Clock()
    levels = [{**LEVELS[0], "on_hand": 10, "reserved": 0}]
    orders = [cancelled_of_cart("ord_1", "cart_a"), cancelled_of_cart("ord_2", "cart_b"),
              cancelled_of_cart("ord_3", "cart_a")]
    shop = FakeShop(clock, lambda now: orders)
    shop.stock = lambda: levels  # type: ignore[method-assign]
    report = audit(shop, clock)
    assert [(f.invariant, f.subject) for f in report.findings] == [("I9", "cart_a")]
    assert "2 orders from one checkout" in report.findings[0].message


def test_i9_is_skipped_where_the_orders_carry_no_cart() -> None:
    clock = Clock()
    report = audit(FakeShop(clock, lambda now: [pending(5000.0)]), clock, timeout=1)
    assert "I9" not in report.checked and "no cart_id" in report.skipped["I9"]
