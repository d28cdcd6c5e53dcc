"""Payment outcomes and the passing of time, decided by the pure core (I3, I4, I6, I7, I11)."""

from __future__ import annotations

from itertools import product

import pytest

from reference_impl.domain.effects import ClearCart, RefundPayment, SendConfirmation
from reference_impl.domain.errors import IllegalTransition
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine
from reference_impl.domain.order_status import OrderEvent, OrderStatus, is_valid_history
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import Policies, StockCommitPoint
from reference_impl.domain.settlement import (
    NO_CHANGE,
    Branch,
    Settlement,
    next_wakeup,
    settle_cancellation,
    settle_expiry,
    settle_payment,
)

TOTAL = Money(3500, "EUR")
LINES = (
    OrderLine("mug", "loc1", 2, Money(1000, "EUR")),
    OrderLine("tee", "loc2", 1, Money(1500, "EUR")),
)
COMMITS = list(StockCommitPoint)
FLAGS = list(product([True, False], repeat=2))  # (clear_cart_on_payment, send_confirmation_email)

#: Whether an order holds stock while pending, per commit point (what checkout does).
HOLDS_AT_ORDER = {
    StockCommitPoint.AT_ORDER: True,
    StockCommitPoint.RESERVE: True,
    StockCommitPoint.ON_PAYMENT: False,
}


def _policies(commit: StockCommitPoint, clear: bool = True, mail: bool = True) -> Policies:
    return Policies(stock_commit=commit, clear_cart_on_payment=clear, send_confirmation_email=mail)


def _order(commit: StockCommitPoint, status: OrderStatus = OrderStatus.PENDING_PAYMENT) -> Order:
    return Order(
        "o1",
        "alice",
        "c1",
        LINES,
        TOTAL,
        created_at=0.0,
        expires_at=900.0,
        status=status,
        holds_stock=HOLDS_AT_ORDER[commit] and status is OrderStatus.PENDING_PAYMENT,
    )


def _moves(kind: MoveKind) -> tuple[StockMove, ...]:
    return (StockMove(kind, "mug", "loc1", 2), StockMove(kind, "tee", "loc2", 1))


def _changes_nothing(s: Settlement) -> bool:
    return not s.changes_anything and s.moves == () and s.on_success == Branch()


# --- pending + succeeded --------------------------------------------------------------------

PAID_MOVES = {
    StockCommitPoint.AT_ORDER: (),  # sold at order already (seed 000)
    StockCommitPoint.RESERVE: _moves(MoveKind.COMMIT),
    StockCommitPoint.ON_PAYMENT: _moves(MoveKind.SELL),  # seeds 001, 002
}


@pytest.mark.parametrize(("clear", "mail"), FLAGS)
@pytest.mark.parametrize("commit", COMMITS)
def test_pending_success(commit: StockCommitPoint, clear: bool, mail: bool) -> None:
    s = settle_payment(
        _order(commit), PaymentOutcome.SUCCEEDED, TOTAL, _policies(commit, clear, mail)
    )
    assert s.verdict == "paid"
    assert s.moves == PAID_MOVES[commit]
    assert s.on_success.events == (OrderEvent.PAYMENT_SUCCEEDED,)
    expected_effects: list[object] = []
    if clear:
        expected_effects.append(ClearCart("c1"))
    if mail:
        expected_effects.append(SendConfirmation("o1", "alice"))
    assert list(s.on_success.effects) == expected_effects
    assert s.on_success.takes_stock is bool(PAID_MOVES[commit])
    assert not s.on_success.releases_stock


def test_on_payment_shortage_branch_is_paid_then_refunded() -> None:
    policies = _policies(StockCommitPoint.ON_PAYMENT)
    order = _order(StockCommitPoint.ON_PAYMENT)
    s = settle_payment(order, PaymentOutcome.SUCCEEDED, TOTAL, policies)
    assert s.on_shortage is not None
    assert s.on_shortage.events == (OrderEvent.PAYMENT_SUCCEEDED, OrderEvent.UNFULFILLABLE)
    (refund,) = s.on_shortage.effects
    assert isinstance(refund, RefundPayment) and refund.order_id == "o1"
    # I7: no confirmation and no cleared cart for an order that is refunded.
    assert not any(isinstance(e, (ClearCart, SendConfirmation)) for e in s.on_shortage.effects)
    assert not s.on_shortage.takes_stock
    for event in s.on_shortage.events:
        order.apply(event, 1.0, "test")
    assert order.status is OrderStatus.REFUNDED
    assert is_valid_history([c.status for c in order.history])


@pytest.mark.parametrize("commit", COMMITS)
@pytest.mark.parametrize("amount", [Money(3499, "EUR"), Money(3501, "EUR"), Money(3500, "USD")])
def test_amount_mismatch_changes_nothing(commit: StockCommitPoint, amount: Money) -> None:
    s = settle_payment(_order(commit), PaymentOutcome.SUCCEEDED, amount, _policies(commit))
    assert s.verdict == "amount_mismatch"  # I6: never paid on a wrong amount
    assert _changes_nothing(s)
    assert s.on_shortage is None


# --- pending + failed / expired -------------------------------------------------------------

RELEASE_MOVES = {
    StockCommitPoint.AT_ORDER: _moves(MoveKind.RESTOCK),
    StockCommitPoint.RESERVE: _moves(MoveKind.RELEASE),
    StockCommitPoint.ON_PAYMENT: (),
}
FAILURES = {
    PaymentOutcome.FAILED: (OrderEvent.PAYMENT_FAILED, "payment_failed"),
    PaymentOutcome.EXPIRED: (OrderEvent.EXPIRED, "expired"),
}


@pytest.mark.parametrize("outcome", list(FAILURES))
@pytest.mark.parametrize("commit", COMMITS)
def test_pending_failure_releases_per_policy(
    commit: StockCommitPoint, outcome: PaymentOutcome
) -> None:
    event, verdict = FAILURES[outcome]
    # The amount of a failed payment does not matter.
    s = settle_payment(_order(commit), outcome, Money(1, "EUR"), _policies(commit))
    assert s.verdict == verdict
    assert s.moves == RELEASE_MOVES[commit]
    assert s.on_success == Branch(events=(event,), releases_stock=HOLDS_AT_ORDER[commit])
    assert s.on_shortage is None


@pytest.mark.parametrize("commit", [StockCommitPoint.AT_ORDER, StockCommitPoint.RESERVE])
def test_failure_of_an_order_holding_nothing_moves_nothing(commit: StockCommitPoint) -> None:
    order = _order(commit)
    order.holds_stock = False
    s = settle_payment(order, PaymentOutcome.FAILED, TOTAL, _policies(commit))
    assert s.moves == ()
    assert not s.on_success.releases_stock


# --- not pending: late, duplicated or contradicting events (I4) -----------------------------

DEAD = [OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELLED]


@pytest.mark.parametrize("status", DEAD)
@pytest.mark.parametrize("commit", COMMITS)
def test_late_success_after_a_dead_order_asks_for_a_refund(
    commit: StockCommitPoint, status: OrderStatus
) -> None:
    s = settle_payment(_order(commit, status), PaymentOutcome.SUCCEEDED, TOTAL, _policies(commit))
    assert s.verdict == "late_success_refunded"
    assert s.moves == ()
    assert s.on_success.events == ()  # the status stays
    (refund,) = s.on_success.effects
    assert isinstance(refund, RefundPayment) and refund.order_id == "o1"
    assert status.value in refund.reason


STALE = [
    (status, outcome)
    for status, outcome in product(OrderStatus, PaymentOutcome)
    if status is not OrderStatus.PENDING_PAYMENT
    and not (status in DEAD and outcome is PaymentOutcome.SUCCEEDED)
]


@pytest.mark.parametrize("commit", COMMITS)
@pytest.mark.parametrize(("status", "outcome"), STALE, ids=str)
def test_stale_events_change_nothing(
    commit: StockCommitPoint, status: OrderStatus, outcome: PaymentOutcome
) -> None:
    s = settle_payment(_order(commit, status), outcome, TOTAL, _policies(commit))
    assert s.verdict == "stale"
    assert _changes_nothing(s)


def test_every_status_outcome_pair_is_covered() -> None:
    pending = {(OrderStatus.PENDING_PAYMENT, o) for o in PaymentOutcome}
    late = {(s, PaymentOutcome.SUCCEEDED) for s in DEAD}
    assert pending | late | set(STALE) == set(product(OrderStatus, PaymentOutcome))


# --- expiry, cancellation, wake-up ----------------------------------------------------------


@pytest.mark.parametrize("commit", COMMITS)
def test_expiry_before_the_ttl_changes_nothing(commit: StockCommitPoint) -> None:
    s = settle_expiry(_order(commit), _policies(commit), now=899.999)
    assert s.verdict == NO_CHANGE
    assert _changes_nothing(s)


@pytest.mark.parametrize("now", [900.0, 5000.0])
@pytest.mark.parametrize("commit", COMMITS)
def test_expiry_at_or_after_the_ttl_cancels_and_releases(
    commit: StockCommitPoint, now: float
) -> None:
    s = settle_expiry(_order(commit), _policies(commit), now=now)
    assert s.verdict == "expired"
    assert s.moves == RELEASE_MOVES[commit]
    assert s.on_success == Branch(
        events=(OrderEvent.EXPIRED,), releases_stock=HOLDS_AT_ORDER[commit]
    )
    assert s.changes_anything


@pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.PENDING_PAYMENT])
def test_expiry_of_a_settled_order_changes_nothing(status: OrderStatus) -> None:
    s = settle_expiry(
        _order(StockCommitPoint.RESERVE, status), _policies(StockCommitPoint.RESERVE), 1e9
    )
    assert _changes_nothing(s)


def test_order_without_ttl_never_expires() -> None:
    order = _order(StockCommitPoint.AT_ORDER)
    order.expires_at = None
    assert _changes_nothing(settle_expiry(order, _policies(StockCommitPoint.AT_ORDER), 1e12))


@pytest.mark.parametrize("commit", COMMITS)
def test_buyer_cancellation_releases(commit: StockCommitPoint) -> None:
    s = settle_cancellation(_order(commit), _policies(commit))
    assert s.moves == RELEASE_MOVES[commit]
    assert s.on_success.events == (OrderEvent.BUYER_CANCELLED,)


@pytest.mark.parametrize("status", [s for s in OrderStatus if s is not OrderStatus.PENDING_PAYMENT])
def test_buyer_cannot_cancel_a_settled_order(status: OrderStatus) -> None:
    with pytest.raises(IllegalTransition):
        settle_cancellation(
            _order(StockCommitPoint.RESERVE, status), _policies(StockCommitPoint.RESERVE)
        )


@pytest.mark.parametrize(
    ("expiries", "expected"),
    [([], None), ([None, None], None), ([30.0, None, 10.0, 20.0], 10.0), ([0.0, 5.0], 0.0)],
)
def test_next_wakeup(expiries: list[float | None], expected: float | None) -> None:
    assert next_wakeup(expiries) == expected


def test_settlement_is_pure() -> None:
    order = _order(StockCommitPoint.RESERVE)
    before = (order.status, list(order.history), order.holds_stock, order.version)
    policies = _policies(StockCommitPoint.RESERVE)
    for outcome in PaymentOutcome:
        settle_payment(order, outcome, TOTAL, policies)
    settle_expiry(order, policies, now=1e9)
    settle_cancellation(order, policies)
    assert (order.status, order.history, order.holds_stock, order.version) == before
