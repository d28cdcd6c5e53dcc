"""The order status table (DESIGN.md section 3) and invariant I2."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from reference_impl.domain.errors import IllegalTransition
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine, StatusChange
from reference_impl.domain.order_status import (
    INITIAL_STATUS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    OrderEvent,
    OrderStatus,
    is_allowed_move,
    is_valid_history,
    next_status,
)

P, PAID, FAILED, CANCELLED, REFUNDED = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.PAYMENT_FAILED,
    OrderStatus.CANCELLED,
    OrderStatus.REFUNDED,
)

#: DESIGN.md section 3: pending_payment -> paid | payment_failed | cancelled, paid -> refunded.
ALLOWED = {
    (P, OrderEvent.PAYMENT_SUCCEEDED): PAID,
    (P, OrderEvent.PAYMENT_FAILED): FAILED,
    (P, OrderEvent.EXPIRED): CANCELLED,
    (P, OrderEvent.BUYER_CANCELLED): CANCELLED,
    (PAID, OrderEvent.UNFULFILLABLE): REFUNDED,
}
FORBIDDEN = [pair for pair in product(OrderStatus, OrderEvent) if pair not in ALLOWED]


def _order(status: OrderStatus = INITIAL_STATUS) -> Order:
    line = OrderLine("v1", "loc1", 2, Money(500, "EUR"))
    return Order("o1", "alice", "c1", (line,), Money(1000, "EUR"), created_at=0.0, status=status)


def test_table_is_the_design_table() -> None:
    assert dict(TRANSITIONS) == ALLOWED


@pytest.mark.parametrize(("pair", "target"), list(ALLOWED.items()), ids=str)
def test_allowed_transition(pair: tuple[OrderStatus, OrderEvent], target: OrderStatus) -> None:
    status, event = pair
    assert next_status(status, event) is target
    order = _order(status)
    assert order.apply(event, now=5.0, reason="test") is target
    assert order.status is target
    assert order.history[-1] == StatusChange(target, 5.0, "test")


@pytest.mark.parametrize(("status", "event"), FORBIDDEN, ids=str)
def test_every_other_pair_raises_and_changes_nothing(
    status: OrderStatus, event: OrderEvent
) -> None:
    with pytest.raises(IllegalTransition):
        next_status(status, event)
    order = _order(status)
    history = list(order.history)
    with pytest.raises(IllegalTransition):
        order.apply(event, now=5.0, reason="test")
    assert order.status is status
    assert order.history == history


def test_terminal_statuses() -> None:
    # paid is not terminal: it may still become refunded (on_payment oversell).
    assert frozenset({FAILED, CANCELLED, REFUNDED}) == TERMINAL_STATUSES


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_terminal_statuses_accept_no_event(status: OrderStatus) -> None:
    for event in OrderEvent:
        with pytest.raises(IllegalTransition):
            next_status(status, event)


def test_new_order_starts_pending_with_one_history_entry() -> None:
    order = _order()
    assert order.is_pending
    assert order.history == [StatusChange(P, 0.0, "order created")]


def test_is_allowed_move() -> None:
    assert is_allowed_move(P, PAID)
    assert is_allowed_move(PAID, REFUNDED)
    assert not is_allowed_move(PAID, FAILED)
    assert not is_allowed_move(P, REFUNDED)
    assert not is_allowed_move(P, P)


@pytest.mark.parametrize(
    "history",
    [[P], [P, PAID], [P, FAILED], [P, CANCELLED], [P, PAID, REFUNDED]],
    ids=str,
)
def test_valid_histories(history: list[OrderStatus]) -> None:
    assert is_valid_history(history)


@pytest.mark.parametrize(
    "history",
    [
        [],
        [PAID],
        [P, P],
        [P, REFUNDED],
        [P, PAID, FAILED],  # I4: a failure never follows a payment
        [P, FAILED, PAID],
        [P, CANCELLED, PAID],
        [P, PAID, REFUNDED, PAID],
    ],
    ids=str,
)
def test_invalid_histories(history: list[OrderStatus]) -> None:
    assert not is_valid_history(history)


class OrderMachine(RuleBasedStateMachine):
    """Throws every event at an order, legal or not; the history must stay a path (I2)."""

    def __init__(self) -> None:
        super().__init__()
        self.order = _order()
        self.now = 0.0

    @rule(event=st.sampled_from(list(OrderEvent)), dt=st.floats(min_value=0, max_value=100))
    def apply(self, event: OrderEvent, dt: float) -> None:
        self.now += dt
        before_status, before_len = self.order.status, len(self.order.history)
        expected = TRANSITIONS.get((before_status, event))
        if expected is None:
            with pytest.raises(IllegalTransition):
                self.order.apply(event, self.now, event.value)
            assert self.order.status is before_status
            assert len(self.order.history) == before_len
        else:
            assert self.order.apply(event, self.now, event.value) is expected
            assert len(self.order.history) == before_len + 1

    @invariant()
    def history_is_a_path(self) -> None:
        statuses = [change.status for change in self.order.history]
        assert is_valid_history(statuses)
        assert statuses[-1] is self.order.status

    @invariant()
    def history_times_never_go_back(self) -> None:
        times = [change.at for change in self.order.history]
        assert times == sorted(times)


OrderMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=20, deadline=None)
TestOrderMachine = OrderMachine.TestCase
