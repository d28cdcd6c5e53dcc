"""The metrics of one run, and what each one means.

A run observes the buyers who arrive inside the window ``[run.warmup, run.duration)`` and
follows them, and their orders, to the end (the run goes on until nothing is left to happen,
or until ``--until``). Stock counts are the shop's, over the whole run. Every metric is a
number per replication; ``sim.stats`` turns the replications into a mean and its 95%
confidence interval.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from reference_impl.domain.checkout import MOVE_AT_ORDER
from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.policies import Policies
from reference_impl.service.memory import MemoryStore
from reference_impl.service.settle import REFUND
from sim.capacity import Station
from sim.observations import Observations, SessionEnd, TurnAway


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    unit: str
    doc: str


def _metrics() -> list[Metric]:
    m = [
        Metric("sessions", "buyer sessions", "", "buyers who arrived inside the window"),
        *(
            Metric(f"sessions_{end.value}", f"sessions ending {end.value}", "",
                   f"sessions that ended {end.value}")
            for end in SessionEnd
        ),
        Metric("conversion", "conversion", "ratio", "orders paid / sessions"),
        Metric("orders", "orders placed", "", "orders of the window's buyers"),
        *(
            Metric(f"orders_{status.value}", f"orders {status.value}", "",
                   f"orders whose final status is {status.value}")
            for status in OrderStatus
        ),
        Metric("units_received", "units received", "units", "stock received (whole run)"),
        Metric("units_sold", "units sold", "units", "units in the sold bucket at the end"),
        Metric("sell_through", "sold / received", "ratio", "units_sold / units_received"),
        Metric("oversold_units", "oversold units", "units",
               "units of paid orders refunded for want of stock (stock_commit on_payment)"),
        Metric("refunds", "refunds", "", "refunds requested: oversold, or paid too late"),
        Metric("lost_sales", "lost sales", "buyers",
               "buyers turned away while stock was held by orders whose reservation later "
               "expired, matched unit for unit to those holds"),
        Metric("lost_units", "lost units", "units",
               "units the expired holds could have sold to buyers turned away"),
        Metric("confirmation_mean", "time to confirmation, mean", "s",
               "checkout to the order being paid"),
        Metric("confirmation_p50", "time to confirmation, p50", "s", "median"),
        Metric("confirmation_p95", "time to confirmation, p95", "s", "95th percentile"),
        Metric("confirmation_p99", "time to confirmation, p99", "s", "99th percentile"),
        Metric("webhook_lag_mean", "webhook lag, mean", "s",
               "gateway payment to the shop's first 2xx for the event"),
        Metric("webhook_lag_p95", "webhook lag, p95", "s", "95th percentile"),
        Metric("webhook_lag_max", "webhook lag, max", "s", "longest"),
        Metric("webhook_attempts_per_event", "webhook attempts per event", "",
               "delivery attempts (duplicates and retries included) / events"),
        Metric("webhook_rejected", "webhooks rejected", "",
               "attempts answered 400 (stale or forged signature)"),
        Metric("webhook_gave_up", "webhooks given up", "", "copies abandoned after max_attempts"),
        Metric("gateway_errors", "gateway calls failed", "",
               "session or charge calls that failed after every retry"),
        Metric("gateway_abandoned", "gateway calls abandoned", "",
               "tries the shop's client gave up on while the gateway queued or served them "
               "(work the gateway did for nobody)"),
        Metric("emails_sent", "confirmation emails", "", "emails the mail worker sent"),
        Metric("session_time_mean", "session time, mean", "s", "arrival to leaving (W)"),
        Metric("in_shop_mean", "buyers in the shop, mean", "",
               "time-average number of buyers in the shop over the window (L)"),
        Metric("little_lambda_w", "arrival rate x session time", "",
               "lambda * W; Little's law says it equals in_shop_mean"),
    ]
    for station in ("workers", "database", "gateway"):
        m += [
            Metric(f"{station}_utilisation", f"{station} utilisation", "ratio",
                   "busy servers / capacity (L of the servers when unlimited)"),
            Metric(f"{station}_wait_mean", f"{station} wait, mean", "s",
                   "mean time calls queued for a server"),
            Metric(f"{station}_wait_probability", f"{station} P(wait)", "ratio",
                   "share of calls that queued"),
        ]
    m += [
        Metric("violations", "invariant violations", "", "I1, I2, I6, I7, I11 together"),
        *(
            Metric(f"violations_{i}", f"violations of {i}", "", f"violations of {i}")
            for i in ("I1", "I2", "I6", "I7", "I11")
        ),
        Metric("events", "simulation events", "", "SimPy events scheduled by the run"),
    ]
    return m


METRICS: tuple[Metric, ...] = tuple(_metrics())
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)
BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def _paid_at(order: Order) -> float | None:
    return next((c.at for c in order.history if c.status is OrderStatus.PAID), None)


def measure(
    obs: Observations,
    store: MemoryStore,
    policies: Policies,
    stations: Iterable[Station],
    window: tuple[float, float],
    end: float,
) -> tuple[dict[str, float], list[float]]:
    """The run's metrics, and its confirmation times (for the CDF plot)."""
    start, stop = window
    arrived = obs.arrived_at
    inside = [start <= t < stop for t in arrived]
    values: dict[str, float] = dict.fromkeys(METRIC_NAMES, 0.0)
    sessions = sum(inside)
    values["sessions"] = sessions
    # Counted first, then added: one metric name per kind of end, not one per session.
    ends = Counter(
        end_kind
        for end_kind, counted in zip(obs.ended, inside, strict=True)
        if counted and end_kind is not None
    )
    for end_kind, count in ends.items():
        values[f"sessions_{end_kind.value}"] += count

    confirmations: list[float] = []
    window_orders: set[str] = set()
    for order in store.orders.values():
        # A cart's id is its buyer's index: "c17" belongs to buyer 17 (sim.buyer).
        if not inside[int(order.cart_id[1:])]:
            continue
        window_orders.add(order.order_id)
        values["orders"] += 1
        values[f"orders_{order.status.value}"] += 1
        if order.status is OrderStatus.PAID:
            paid_at = _paid_at(order)
            if paid_at is not None:
                confirmations.append(paid_at - order.created_at)
        elif order.status is OrderStatus.REFUNDED:
            values["oversold_units"] += sum(line.quantity for line in order.lines)
    values["conversion"] = values["orders_paid"] / sessions if sessions else math.nan
    values["refunds"] = sum(
        1 for m in store.outbox if m.kind == REFUND and m.order_id in window_orders
    )

    levels = list(store.stock.values())
    values["units_received"] = sum(level.received for level in levels)
    values["units_sold"] = sum(level.sold for level in levels)
    received = values["units_received"]
    values["sell_through"] = values["units_sold"] / received if received else math.nan
    values["lost_sales"], values["lost_units"] = _lost_sales(obs, store, policies, window)

    values["confirmation_mean"] = float(np.mean(confirmations)) if confirmations else math.nan
    for q in (50, 95, 99):
        values[f"confirmation_p{q}"] = percentile(confirmations, q)

    lags = [lag for created, lag in obs.webhook_lag if start <= created < stop]
    values["webhook_lag_mean"] = float(np.mean(lags)) if lags else math.nan
    values["webhook_lag_p95"] = percentile(lags, 95)
    values["webhook_lag_max"] = max(lags) if lags else math.nan
    values["webhook_attempts_per_event"] = (
        obs.webhook_attempts / obs.webhook_events if obs.webhook_events else math.nan
    )
    values["webhook_rejected"] = obs.webhook_rejected
    values["webhook_gave_up"] = obs.webhook_gave_up
    values["gateway_errors"] = obs.gateway_errors
    values["gateway_abandoned"] = obs.gateway_abandoned
    values["emails_sent"] = sum(obs.emails.values())

    for station in stations:
        values[f"{station.name}_utilisation"] = station.utilisation()
        values[f"{station.name}_wait_mean"] = station.mean_wait()
        values[f"{station.name}_wait_probability"] = station.wait_probability()

    _little(values, obs, inside, window, end)
    return values, confirmations


def _little(
    values: dict[str, float],
    obs: Observations,
    inside: list[bool],
    window: tuple[float, float],
    end: float,
) -> None:
    """L (time-average buyers in the shop over the window) against lambda * W."""
    start, stop = window
    stop = min(stop, end)
    span = stop - start
    area = 0.0
    stays: list[float] = []
    # One pass per buyer: comparisons rather than ``max``, ``min`` and ``math.isnan`` calls.
    for arrived, left, counted in zip(obs.arrived_at, obs.left_at, inside, strict=True):
        gone = left if left == left else end  # nan (still in the shop) is unequal to itself
        low = arrived if arrived >= start else start
        high = gone if gone <= stop else stop
        if high > low:
            area += high - low
        if counted:
            stays.append(gone - arrived)
    session_time = float(np.mean(stays)) if stays else math.nan
    values["session_time_mean"] = session_time
    values["in_shop_mean"] = area / span if span > 0 else math.nan
    rate = len(stays) / span if span > 0 else math.nan
    values["little_lambda_w"] = rate * session_time if stays else math.nan


def _lost_sales(
    obs: Observations, store: MemoryStore, policies: Policies, window: tuple[float, float]
) -> tuple[int, int]:
    """Buyers, and units, turned away while stock sat in orders whose reservation expired.

    A refusal counts when a unit held then by a later-expired order was still unmatched:
    each held unit can have served at most one refused unit during its hold, so the lost
    units never exceed the units the expired orders held. Refusals are matched in time
    order to the holds that end first, which maximises the match. ``lost_sales`` counts the
    buyers with at least one matched unit, ``lost_units`` the units.
    """
    if MOVE_AT_ORDER[policies.stock_commit] is None:
        return 0, 0  # orders take no stock before payment (on_payment): nothing to hold
    holds: dict[tuple[str, str], list[tuple[float, float, int]]] = defaultdict(list)
    for order in store.orders.values():
        if order.status is not OrderStatus.CANCELLED:
            continue
        # Simulated buyers never cancel, so a cancelled order is one whose TTL ran out.
        released = next(c.at for c in order.history if c.status is OrderStatus.CANCELLED)
        for line in order.lines:
            holds[(line.variant_id, line.location_id)].append(
                (order.created_at, released, line.quantity)
            )
    start, stop = window
    refusals: dict[tuple[str, str], list[TurnAway]] = defaultdict(list)
    for refusal in obs.turned_away:
        key = (refusal.variant_id, refusal.location_id)
        if key in holds and start <= obs.arrived_at[refusal.buyer] < stop:
            refusals[key].append(refusal)
    lost_buyers: set[int] = set()
    lost_units = 0
    for key, refused in refusals.items():
        pending = sorted(holds[key])
        open_holds: list[list[float]] = []  # heap of [released, units left]
        i = 0
        for refusal in sorted(refused, key=lambda r: r.at):
            while i < len(pending) and pending[i][0] <= refusal.at:
                heapq.heappush(open_holds, [pending[i][1], float(pending[i][2])])
                i += 1
            while open_holds and open_holds[0][0] <= refusal.at:
                heapq.heappop(open_holds)
            if not open_holds:
                continue
            lost_buyers.add(refusal.buyer)
            wanted = refusal.quantity
            while wanted and open_holds:
                take = min(wanted, int(open_holds[0][1]))
                wanted -= take
                lost_units += take
                open_holds[0][1] -= take
                if not open_holds[0][1]:
                    heapq.heappop(open_holds)
    return len(lost_buyers), lost_units
