"""Is the warm-up long enough? MSER-5 on the run's occupancy over time (``--warmup-check``).

A scenario with ``run.warmup > 0`` asks for steady-state estimates: whatever happened
before the warm-up is thrown away because the shop starts empty (no buyers, no orders
waiting for payment, every unit free) and takes a while to fill. Too short a warm-up biases
every metric toward the empty shop; too long wastes the run. The warm-up was chosen by
hand; this checks it.

Two series are watched, each the time-average of a count over each of ``SAMPLES`` equal
intervals of ``[0, run.duration)`` (after ``run.duration`` arrivals stop and the shop drains,
another transient):

* ``in_shop``: buyers in the shop, which fills in about one session's length;
* ``reserved_units``: units held by the reservations of orders awaiting payment (profiles
  that reserve stock at order time; zero under the others), which fills over the payment's
  delays and, where buyers leave orders unpaid, over the reservation's TTL: often the
  slowest part of the shop to settle, and what decides whether the next buyer finds stock.

Each series is averaged over the replications (Welch's procedure), and its truncation
point is chosen by MSER-5 (White, 1997; the method Hoad, Robinson and Davies' 2010 review of
warm-up methods chose to automate): batch the series in means of 5, and cut the ``d`` batches that
minimise ``sum((Z_j - mean(Z[d:]))**2) / (k - d)**2`` over the remaining ``k - d``: the cut
that best trades the bias removed against the data lost. Cuts are sought in the first half
only (near its end the statistic divides by few batches and dips at random); a minimum on
the edge of that half means the series was still moving there (too short a run, too few
replications, or no steady state): that series gives no answer. The suggested warm-up is
the latest cut of the two series.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reference_impl.domain.order import Order
from reference_impl.domain.order_status import OrderStatus
from sim.observations import Observations

#: Intervals each series is cut into (MSER-5 then has a hundred batches).
SAMPLES = 500
BATCH = 5
SERIES = ("in_shop", "reserved_units")
LABELS = {"in_shop": "buyers in the shop", "reserved_units": "units held by reservations"}


def occupancy(
    starts: Sequence[float], ends: Sequence[float], horizon: float, samples: int = SAMPLES,
    weights: Sequence[float] | None = None,
) -> list[float]:
    """The time-average of how many of the intervals ``[start, end)`` are open (each
    counting its weight, 1 unless given) in each of ``samples`` equal slices of
    ``[0, horizon)``; an ``end`` of nan is still open at the horizon."""
    if horizon <= 0:
        raise ValueError("the horizon must be positive")
    start = np.asarray(starts, dtype=float)
    end = np.asarray(ends, dtype=float)
    weight = np.ones(start.size) if weights is None else np.asarray(weights, dtype=float)
    end = np.where(np.isnan(end), math.inf, end)
    grid = np.linspace(0.0, horizon, samples + 1)
    # The area under the count up to t: the weighted time each interval was open before t.
    area = _open_time(start, weight, grid) - _open_time(end, weight, grid)
    return list(np.diff(area) / (horizon / samples))


def _open_time(times: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``sum(w * max(0, t - x) for x, w in zip(times, weights))`` at each ``t`` of the grid."""
    finite = np.isfinite(times)
    order = np.argsort(times[finite], kind="stable")
    x, w = times[finite][order], weights[finite][order]
    before = np.searchsorted(x, grid, side="left")
    weight_before = np.concatenate(([0.0], np.cumsum(w)))[before]
    moment_before = np.concatenate(([0.0], np.cumsum(w * x)))[before]
    area: np.ndarray = weight_before * grid - moment_before
    return area


def series_horizon(duration: float, ended_at: float) -> float:
    """Where a run's series end: arrivals stop at ``run.duration``, or the run stopped
    earlier (``--until``)."""
    return min(duration, ended_at)


def run_series(
    obs: Observations, orders: Sequence[Order], reserving: bool, horizon: float,
    samples: int = SAMPLES,
) -> dict[str, list[float]]:
    """The run's series (see the module's docstring); ``reserving``: the profile reserves
    stock at order time (``stock_commit: reserve``), so a pending order holds its units."""
    held_from, held_to, units = [], [], []
    if reserving:
        for order in orders:
            held_from.append(order.created_at)
            held_to.append(next(
                (c.at for c in order.history if c.status is not OrderStatus.PENDING_PAYMENT),
                math.nan,
            ))
            units.append(sum(line.quantity for line in order.lines))
    return {
        "in_shop": occupancy(obs.arrived_at, obs.left_at, horizon, samples),
        "reserved_units": occupancy(held_from, held_to, horizon, samples, units),
    }


def mser(series: Sequence[float], batch: int = BATCH) -> int | None:
    """MSER-``batch``: how many observations to cut, or None when the statistic still falls
    at the middle of the series (it did not settle within the first half)."""
    k = len(series) // batch
    if k < 4:
        raise ValueError(f"MSER-{batch} needs at least {4 * batch} observations")
    z = np.asarray(series[: k * batch], dtype=float).reshape(k, batch).mean(axis=1)
    # For every cut d, the mean and the sum of squares of z[d:], from the end backwards.
    tail_sum = np.cumsum(z[::-1])[::-1]
    tail_sq = np.cumsum((z * z)[::-1])[::-1]
    remaining = np.arange(k, 0, -1, dtype=float)
    squares = tail_sq - tail_sum * tail_sum / remaining
    statistic = squares / remaining**2
    # Only cuts in the first half: near the end the statistic divides by ever fewer
    # batches and has spurious minima (White, Cobb and Spratt, 2000). A minimum on the
    # edge of that half means the statistic was still falling there: no answer.
    half = k // 2
    best = int(np.argmin(statistic[: half + 1]))
    if best >= half - 1:
        return None
    return best * batch


@dataclass(frozen=True, slots=True)
class SeriesCheck:
    name: str
    mean: list[float]  # over the replications, one value per interval
    cut: float | None  # seconds MSER-5 cuts; None: did not settle


@dataclass(frozen=True, slots=True)
class WarmupCheck:
    """The check of one point of an experiment."""

    point: int
    configured: float  # run.warmup
    horizon: float  # run.duration: the series cover [0, horizon)
    replications: int
    series: tuple[SeriesCheck, ...]

    @property
    def step(self) -> float:
        return self.horizon / len(self.series[0].mean)

    @property
    def settled(self) -> bool:
        return all(s.cut is not None for s in self.series)

    @property
    def suggested(self) -> float | None:
        """The latest cut of the series, or None if one never settled."""
        cuts = [s.cut for s in self.series]
        return None if None in cuts else max(c for c in cuts if c is not None)

    @property
    def enough(self) -> bool:
        suggested = self.suggested
        return suggested is not None and suggested <= self.configured


def check_point(
    point: int, configured: float, horizon: float, runs: Sequence[dict[str, list[float]]]
) -> WarmupCheck:
    """MSER-5 on the replication-averaged series of one point."""
    checks = []
    for name in SERIES:
        mean = list(np.mean([run[name] for run in runs], axis=0))
        cut = mser(mean)
        checks.append(SeriesCheck(name, mean, None if cut is None else cut * horizon / len(mean)))
    return WarmupCheck(point, configured, horizon, len(runs), tuple(checks))
