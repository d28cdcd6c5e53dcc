"""Selecting the best: which ``--compare`` value is best for a metric, with a guarantee.

A paired difference says whether two values differ; an architect comparing three stock
policies asks which one to pick. ``--select-best lost_sales:min --indifference 5`` answers
it with Kim and Nelson's fully sequential procedure KN ("A fully sequential procedure for
indifference-zone selection in simulation", ACM TOMACS 11(3), 2001): with probability at
least 95%, the value chosen is the best, or within ``indifference`` of the best (the
indifference zone: a difference smaller than that is not worth telling apart). The
replications are assumed roughly normal (a replication's metric is itself an average over
many buyers) and may share their random numbers, as every comparison here does (KN's
variances are those of the paired differences).

KN, for ``k`` values and a pilot of ``n0`` replications, with ``alpha = 0.05``:

* ``eta = ((2 alpha / (k - 1)) ** (-2 / (n0 - 1)) - 1) / 2`` and ``h2 = 2 eta (n0 - 1)``;
* ``S2[i, l]``: the variance of ``X_i - X_l`` over the pilot, and
  ``N[i] = max over l of floor(h2 S2[i, l] / delta**2)``;
* at each replication count ``r`` from ``n0``, value ``i`` is eliminated when some other
  survivor ``l`` has ``mean_l(r) - W[i, l](r) > mean_i(r)``, with
  ``W[i, l](r) = max(0, delta / (2 r) * (h2 S2[i, l] / delta**2 - r))``;
* it stops when one value is left, or at ``r = max N[i] + 1`` over the survivors, choosing
  the survivor with the best mean.

Here the replications run in rounds (all values keep the same replications, so the other
comparisons stay paired), and the procedure is replayed from the pilot over everything run
so far: the answer is the one KN gives one replication at a time, whatever the rounds were.
With ``--sweep``, each combination of the swept values selects among its own ``--compare``
values, each with its own 95%.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sim.errors import SimulationError
from sim.metrics import BY_NAME, METRIC_NAMES
from sim.precision import DEFAULT_MAX_REPLICATIONS
from sim.stats import CONFIDENCE

DIRECTIONS = {"min": False, "max": True}
#: An undecided selection's next round is at least this much larger (KN would add one
#: replication at a time; rounds keep the worker processes busy).
GROWTH = 1.5


@dataclass(frozen=True, slots=True)
class SelectBest:
    metric: str
    maximize: bool
    indifference: float  # delta, in the metric's own units
    max_replications: int = DEFAULT_MAX_REPLICATIONS
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        if self.metric not in BY_NAME:
            raise SimulationError(
                f"--select-best: no metric {self.metric!r} (one of {', '.join(METRIC_NAMES)})"
            )
        if not (self.indifference > 0 and math.isfinite(self.indifference)):
            raise SimulationError(
                f"--indifference must be a positive difference in {self.metric}, "
                f"not {self.indifference:g}"
            )
        if self.max_replications < 2:
            raise SimulationError(
                f"--max-replications must be at least 2, not {self.max_replications}"
            )

    @classmethod
    def parse(cls, spec: str, indifference: float,
              max_replications: int = DEFAULT_MAX_REPLICATIONS) -> SelectBest:
        """``METRIC:min`` or ``METRIC:max``."""
        metric, _, direction = spec.strip().rpartition(":")
        if direction not in DIRECTIONS or not metric:
            raise SimulationError(
                f"--select-best expects METRIC:min or METRIC:max (lost_sales:min, "
                f"conversion:max), not {spec!r}"
            )
        return cls(metric, DIRECTIONS[direction], indifference, max_replications)

    @property
    def goal(self) -> str:
        return "highest" if self.maximize else "lowest"


@dataclass(frozen=True, slots=True)
class Elimination:
    point: int
    replication: int  # the replication count at which it was screened out
    by: int  # the point whose mean it fell behind


@dataclass(frozen=True, slots=True)
class GroupSelection:
    """KN among the ``--compare`` values of one combination of the swept values."""

    points: tuple[int, ...]
    chosen: int | None  # None: not decided within the replications run
    decided_at: int | None  # the replication count at which it was
    survivors: tuple[int, ...]
    eliminated: tuple[Elimination, ...]
    bound: int  # the replications at which KN stops whatever happens (see ``kn``)
    wanted: int  # undecided: the replications the next round should reach
    tied: tuple[int, ...] = ()  # survivors whose mean equals the chosen one's

    @property
    def decided(self) -> bool:
        return self.chosen is not None


def kn(points: Sequence[int], values: Sequence[Sequence[float]], pilot: int,
       spec: SelectBest) -> GroupSelection:
    """KN replayed over ``values[i]``, the metric's replications at ``points[i]`` (every
    value has the same count, at least ``pilot``)."""
    k, n = len(points), len(values[0])
    sign = 1.0 if spec.maximize else -1.0
    x = [[sign * v for v in row] for row in values]
    alpha = 1 - spec.confidence
    eta = ((2 * alpha / (k - 1)) ** (-2 / (pilot - 1)) - 1) / 2
    h2 = 2 * eta * (pilot - 1)
    delta2 = spec.indifference ** 2
    # The variance of each pair's differences over the pilot (common random numbers).
    s2 = [[0.0 if i == j else statistics.variance(
               [a - b for a, b in zip(x[i][:pilot], x[j][:pilot], strict=True)])
           for j in range(k)] for i in range(k)]
    most = [[math.floor(h2 * s2[i][j] / delta2) for j in range(k)] for i in range(k)]
    sums = [math.fsum(row[:pilot - 1]) for row in x]
    alive = list(range(k))
    eliminated: list[Elimination] = []
    r = pilot

    def bound() -> int:
        # Where the continuation regions of the surviving pairs have all closed (their W is
        # zero from there on, and the screening keeps the best mean alone, barring a tie).
        # The paper's N[i] also counts pairs with values already eliminated, which only
        # makes tied survivors run on.
        return max((most[i][j] for i in alive for j in alive if j != i), default=0) + 1

    def result(chosen: int | None, wanted: int, means: Sequence[float] = ()) -> GroupSelection:
        return GroupSelection(
            points=tuple(points), chosen=None if chosen is None else points[chosen],
            decided_at=None if chosen is None else r, survivors=tuple(points[i] for i in alive),
            eliminated=tuple(eliminated), bound=bound(), wanted=wanted,
            tied=tuple(points[i] for i in alive
                       if chosen is not None and i != chosen and means[i] == means[chosen]))

    while True:
        if r > n:
            return result(None, max(r, min(bound(), math.ceil(GROWTH * n))))
        for i in range(k):
            sums[i] += x[i][r - 1]
        means = [total / r for total in sums]
        # Screened first even where the regions have closed (KN would stop and take the
        # best mean): there every W is zero, so the screening leaves the best mean and its
        # ties, and says which values fell behind.
        kept = []
        for i in alive:
            ahead = max((j for j in alive if j != i),
                        key=lambda j: means[j] - _slack(spec.indifference, h2, s2[i][j], r))
            if means[ahead] - _slack(spec.indifference, h2, s2[i][ahead], r) > means[i]:
                eliminated.append(Elimination(points[i], r, points[ahead]))
            else:
                kept.append(i)
        alive = kept
        if len(alive) == 1 or r >= bound():  # the survivors' regions closed: a tie
            return result(max(alive, key=lambda i: means[i]), r, means)
        r += 1


def _slack(delta: float, h2: float, s2: float, r: int) -> float:
    """KN's ``W[i, j](r)``: how far behind another mean a value may be and still survive."""
    return max(0.0, delta / (2 * r) * (h2 * s2 / delta**2 - r))


def groups(points: int, per_group: int) -> list[tuple[int, ...]]:
    """The point indices of each combination of swept values (compare values vary fastest)."""
    return [tuple(range(start, start + per_group)) for start in range(0, points, per_group)]


def select(values: Sequence[Sequence[float]], group_points: Sequence[Sequence[int]],
           labels: Sequence[str], pilot: int, spec: SelectBest) -> list[GroupSelection]:
    """KN in every group; ``values[point][replication]`` of the metric. A metric undefined in
    some replication (a percentile of no paid orders) cannot be ranked: refused."""
    for point, row in enumerate(values):
        for replication, value in enumerate(row):
            if math.isnan(value):
                raise SimulationError(
                    f"--select-best: {spec.metric} is undefined in replication {replication} "
                    f"at {labels[point]} ({BY_NAME[spec.metric].doc}); choose a metric that "
                    "every run defines"
                )
    return [kn(points, [values[p] for p in points], pilot, spec) for points in group_points]
