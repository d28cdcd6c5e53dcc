"""The invariant checks find what they are for, and a violation comes with its trace.

The domain core keeps the invariants, so a real run never breaks them; these tests break
a finished run's store by hand, the way a faulty core would, and check that each
invariant is reported once with the order's trace.
"""

from __future__ import annotations

from collections import Counter

import pytest

import sim.model
from reference_impl.domain.order import StatusChange
from reference_impl.domain.order_status import OrderStatus
from sim import Experiment, run_experiment
from sim.invariants import Violation, find_violations
from sim.model import Model
from tests.sim.conftest import seed_scenario, small_flash_sale


def _finished(policy: str = "on_payment") -> Model:
    model = Model(small_flash_sale(policy), seed=2, replication=0)
    model.run()
    return model


def _check(
    model: Model, *invariants: str, lag: float = 60.0, later: float = 0.0
) -> list[Violation]:
    """The checks as at the end of the run, or ``later`` seconds after it."""
    shop = model.shop
    return find_violations(shop.uow.store, shop.policies, invariants, model.obs.emails,
                           model.env.now + later, lag)


def test_a_clean_run_violates_nothing() -> None:
    model = _finished()
    assert _check(model, "I1", "I2", "I6", "I7", "I11") == []


def test_i1_negative_stock_and_broken_conservation() -> None:
    model = _finished()
    level = next(iter(model.shop.uow.store.stock.values()))
    level.on_hand -= 5
    problems = [v.detail for v in _check(model, "I1")]
    assert any("received" in p and "!=" in p for p in problems), problems


def test_i1_paid_orders_beyond_stock_received() -> None:
    model = _finished()
    store = model.shop.uow.store
    refunded = next(o for o in store.orders.values() if o.status is OrderStatus.REFUNDED)
    refunded.status = OrderStatus.PAID  # as if the oversold order had been kept
    assert any("paid orders hold" in v.detail for v in _check(model, "I1"))


def test_i2_an_illegal_history() -> None:
    model = _finished()
    order = next(o for o in model.shop.uow.store.orders.values() if o.status is OrderStatus.PAID)
    order.history.append(StatusChange(OrderStatus.PAYMENT_FAILED, order.history[-1].at + 1, "x"))
    (violation,) = _check(model, "I2")
    assert violation.subject == order.order_id and violation.correlation_id == order.cart_id
    assert violation.detail.endswith("paid -> payment_failed")


def test_i7_a_second_confirmation_email() -> None:
    model = _finished()
    paid = next(o for o in model.shop.uow.store.orders.values() if o.status is OrderStatus.PAID)
    model.obs.emails[paid.order_id] += 1
    (violation,) = _check(model, "I7")
    assert "2 confirmation emails for a paid order" in violation.detail


def test_i11_an_order_left_pending() -> None:
    model = _finished("reserve")
    order = next(o for o in model.shop.uow.store.orders.values()
                 if o.status is OrderStatus.CANCELLED)
    del order.history[1:]
    order.status = OrderStatus.PENDING_PAYMENT
    (violation,) = _check(model, "I11", later=3600.0)
    assert "still pending" in violation.detail


def test_the_first_violation_is_reported_with_its_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A "faulty core" that forgets one confirmation email in every run.

    def forgetful(store, policies, checked, emails, end, lag):  # type: ignore[no-untyped-def]
        paid = sorted(o.order_id for o in store.orders.values() if o.status is OrderStatus.PAID)
        forgotten = Counter(emails) - Counter([paid[0]])
        return find_violations(store, policies, checked, forgotten, end, lag)

    monkeypatch.setattr(sim.model, "find_violations", forgetful)
    scenario = seed_scenario("001", run__duration=600, run__warmup=0)
    result = run_experiment(Experiment(scenario, replications=2, seed=9))
    assert result.violations == 2
    first = result.first_violation
    assert first is not None and (first.point, first.replication) == (0, 0)
    assert first.violation.invariant == "I7"
    messages = [e.message for e in first.trace]
    assert {e.correlation_id for e in first.trace} == {first.violation.correlation_id}
    assert "create_order" in messages and "payment_webhook" in messages
    assert "send_confirmation" in messages  # the email the check was told was never sent
