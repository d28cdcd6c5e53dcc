"""Sequential replications: run until the confidence intervals are as narrow as asked.

How many replications does a question need? Too few, and the intervals are too wide to
tell two policies apart; too many, and the sweep wastes hours. ``--precision 0.05`` answers
it the way Law and Kelton's sequential procedure does (*Simulation Modeling and Analysis*,
section 9.4.1, "a relative error of gamma"): start with the pilot replications, and stop
once every target metric's 95% half-width is at most ``gamma / (1 + gamma)`` of the
magnitude of its mean, at every point. Then the mean lies within ``gamma`` of the true value,
relatively, with about 95% confidence. (The adjusted ``gamma / (1 + gamma)`` is theirs: the
half-width is compared with an estimated mean, not the true one.)

Where the intervals are too wide, the number of replications they need is estimated from
the variance seen so far (``needed``): the smallest ``i`` with
``t(i - 1) * s / sqrt(i) <= gamma' * |mean|``. The next round runs that many at every point
(the most any point needs, so that the points keep the same replications and comparisons
stay paired), then checks again, up to ``max_replications``.

Replication ``r`` is the same run whether it ran in the first round or the third (its seed
depends on ``r`` alone), so a sequential experiment that stops at ``n`` replications gives
exactly the summary of a plain one of ``n``.

A metric that is undefined at a point in every replication (a percentile of no paid
orders) has nothing to estimate there and is left out; one whose replications all agree
has a half-width of zero and is met, a zero mean included. One whose mean is zero but whose
values vary can never be met relatively: it runs to ``max_replications`` and is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sim.errors import SimulationError
from sim.metrics import BY_NAME, METRIC_NAMES
from sim.stats import Estimate, t_quantile

#: What ``--precision`` targets unless told: how many buy, how many orders are paid, and how
#: long confirmation takes (the 95th percentile). Rare events (oversold units, violations)
#: are zero in most replications of most scenarios, where a relative precision means little.
DEFAULT_METRICS = ("conversion", "orders_paid", "confirmation_p95")
#: Replications at most per point, unless told.
DEFAULT_MAX_REPLICATIONS = 200
#: ``diff:METRIC`` targets the paired difference of each ``--compare`` value against the
#: first, rather than the metric at each point.
DIFFERENCE = "diff:"


@dataclass(frozen=True, slots=True)
class Precision:
    relative: float  # gamma: the relative error asked for
    metrics: tuple[str, ...] = DEFAULT_METRICS
    max_replications: int = DEFAULT_MAX_REPLICATIONS

    def __post_init__(self) -> None:
        if not 0 < self.relative < 1:
            raise SimulationError(
                f"--precision must be between 0 and 1 (0.05, or 5%), not {self.relative:g}"
            )
        if not self.metrics:
            raise SimulationError("--precision-for needs at least one metric")
        for name in self.metrics:
            if name.removeprefix(DIFFERENCE) not in BY_NAME:
                raise SimulationError(
                    f"--precision-for: no metric {name.removeprefix(DIFFERENCE)!r} (one of "
                    f"{', '.join(METRIC_NAMES)}; diff:METRIC for a --compare difference)"
                )
        if self.max_replications < 2:
            raise SimulationError(
                f"--max-replications must be at least 2, not {self.max_replications}"
            )

    @property
    def differences(self) -> tuple[str, ...]:
        """The targets that are paired differences (``diff:METRIC``)."""
        return tuple(m for m in self.metrics if m.startswith(DIFFERENCE))

    @property
    def adjusted(self) -> float:
        """Law and Kelton's ``gamma / (1 + gamma)``, what the half-width is held to."""
        return self.relative / (1 + self.relative)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A target metric whose interval is still too wide at a point."""

    point: int
    metric: str
    relative_half_width: float  # inf where the mean is zero or there is no interval yet
    needed: int  # replications estimated to meet it (at most the cap)


def label(target: str) -> str:
    """How the terminal names a target: the metric's label, or its paired difference's."""
    metric = target.removeprefix(DIFFERENCE)
    name = BY_NAME[metric].label
    return f"the difference in {name}" if target.startswith(DIFFERENCE) else name


def relative_half_width(est: Estimate) -> float:
    if est.n == 0:
        return math.nan  # undefined at this point: nothing to estimate
    if est.n < 2:
        return math.inf
    if est.half_width == 0:
        return 0.0
    if est.mean == 0:
        return math.inf
    return est.half_width / abs(est.mean)


def needed(est: Estimate, target: float, cap: int) -> int:
    """The fewest replications whose half-width, at the variance seen, is within
    ``target`` of the mean; ``cap`` if none up to it is."""
    if est.n < 2 or est.mean == 0:
        return cap if est.n >= 2 else max(est.n + 1, 2)
    for i in range(est.n + 1, cap + 1):
        if t_quantile(i) * est.std / math.sqrt(i) <= target * abs(est.mean):
            return i
    return cap


class Compared(Protocol):
    """A comparison's point and its paired differences (``sim.experiment.Comparison``)."""

    @property
    def point(self) -> int: ...

    @property
    def differences(self) -> dict[str, Estimate]: ...


def shortfalls(
    summaries: Sequence[dict[str, Estimate]], precision: Precision,
    comparisons: Sequence[Compared] = (),
) -> list[Shortfall]:
    """Every (point, target) whose interval is wider than asked, in point order: each
    point's metrics, and each compared point's paired differences (``diff:``)."""
    targets: list[tuple[int, str, Estimate]] = [
        (point, metric, summary[metric])
        for point, summary in enumerate(summaries)
        for metric in precision.metrics
        if not metric.startswith(DIFFERENCE)
    ]
    targets += [
        (comparison.point, metric, comparison.differences[metric.removeprefix(DIFFERENCE)])
        for comparison in comparisons
        for metric in precision.differences
    ]
    target, cap = precision.adjusted, precision.max_replications
    found = []
    for point, metric, est in sorted(targets, key=lambda t: t[0]):
        width = relative_half_width(est)
        if math.isnan(width) or width <= target:
            continue
        found.append(Shortfall(point, metric, width, needed(est, target, cap)))
    return found
