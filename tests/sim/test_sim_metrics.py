"""Metrics that are more than a count: lost sales, and the summary's statistics."""

from __future__ import annotations

import math

from reference_impl.domain.money import Money
from reference_impl.domain.order import Order, OrderLine
from reference_impl.domain.order_status import OrderEvent
from reference_impl.domain.policies import Policies, StockCommitPoint
from reference_impl.service.memory import MemoryStore
from sim.metrics import _lost_sales
from sim.observations import Observations, TurnAway
from sim.stats import estimate, paired_difference, t_quantile


def _expired_order(order_id: str, created: float, expired: float, units: int) -> Order:
    order = Order(order_id, "b0", f"c-{order_id}", (OrderLine("v", "main", units,
                                                                Money(100, "EUR")),),
                  Money(100 * units, "EUR"), created, expires_at=expired, holds_stock=True)
    order.apply(OrderEvent.EXPIRED, expired, "reservation expired")
    return order


def test_lost_sales_match_refusals_to_the_units_expired_orders_held() -> None:
    store = MemoryStore()
    store.orders = {o.order_id: o for o in (_expired_order("a", 0, 100, 1),
                                            _expired_order("b", 50, 150, 1))}
    obs = Observations()
    for _ in range(4):
        obs.arrive(0.0)
    # Buyer 0 at t=10 takes a's unit; buyer 1 at t=60 wants 2, only b's unit is left;
    # buyer 2 at t=120 finds b's unit matched already; buyer 3 comes after every hold.
    obs.turned_away += [TurnAway(10, 0, "v", "main", 1), TurnAway(60, 1, "v", "main", 2),
                        TurnAway(120, 2, "v", "main", 1), TurnAway(200, 3, "v", "main", 1)]
    reserve = Policies(stock_commit=StockCommitPoint.RESERVE, reservation_ttl=100)
    assert _lost_sales(obs, store, reserve, (0.0, 1000.0)) == (2, 2)
    # Buyers who arrived outside the window are not counted.
    assert _lost_sales(obs, store, reserve, (1.0, 1000.0)) == (0, 0)
    # on_payment takes no stock before payment: nothing is ever held for an order.
    on_payment = Policies(stock_commit=StockCommitPoint.ON_PAYMENT, reservation_ttl=100)
    assert _lost_sales(obs, store, on_payment, (0.0, 1000.0)) == (0, 0)


def test_student_t_interval() -> None:
    est = estimate([1.0, 2.0, 3.0, 4.0])
    assert est.mean == 2.5 and est.n == 4
    assert math.isclose(t_quantile(4), 3.182446305, rel_tol=1e-6)  # t(0.975, 3)
    assert math.isclose(est.half_width, 3.182446305 * math.sqrt(5 / 3) / 2, rel_tol=1e-6)
    assert math.isnan(estimate([7.0]).half_width) and estimate([]).n == 0
    assert estimate([1.0, math.nan, 3.0]).n == 2  # an undefined value is left out


def test_paired_differences_pair_by_replication() -> None:
    diff = paired_difference([1.0, 2.0, math.nan, 4.0], [2.0, 3.0, 5.0, 5.0])
    assert (diff.mean, diff.n, diff.half_width) == (1.0, 3, 0.0)
