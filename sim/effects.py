"""Factorial effects: which setting moves a metric most, and do two settings interact?

A sweep over several settings answers "what happens at each combination"; an architect then
asks which setting matters. With two values per axis (``--sweep`` and ``--compare`` alike),
the experiment's grid is a 2^k factorial design, and ``--effects METRIC`` reports what Law
and Kelton's chapter on experimental design does (*Simulation Modeling and Analysis*,
section 12.2, "2^k factorial designs"):

* the **main effect** of a setting: the metric's average over the points where it has its
  second value, minus the average where it has its first;
* the **interaction** of two settings: half the difference between the effect of the
  first with the second at its second value and with the second at its first (zero when
  each setting's effect does not depend on the other).

Each replication gives one estimate of every effect, from the 2^k points' values in that
replication (common random numbers: the same buyers at every point, which makes the
estimates far less noisy than independent runs would); the replications are independent,
so each effect's mean and 95% Student t interval come from those estimates. An effect whose
interval excludes zero is reported as such. Higher-order interactions are left out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sim.errors import SimulationError
from sim.metrics import BY_NAME, METRIC_NAMES
from sim.stats import Estimate, estimate


@dataclass(frozen=True, slots=True)
class Factor:
    name: str
    first: Any
    second: Any


@dataclass(frozen=True, slots=True)
class Effect:
    factors: tuple[Factor, ...]  # one: a main effect; two: an interaction
    estimate: Estimate

    @property
    def label(self) -> str:
        if len(self.factors) == 1:
            (f,) = self.factors
            return f"{f.name}: {f.first} -> {f.second}"
        return " x ".join(f.name for f in self.factors)

    @property
    def significant(self) -> bool:
        """The 95% interval excludes zero."""
        est = self.estimate
        return est.n >= 2 and not math.isnan(est.half_width) and (est.low > 0 or est.high < 0)


def check_metrics(metrics: Sequence[str]) -> None:
    if not metrics:
        raise SimulationError("--effects needs at least one metric")
    for name in metrics:
        if name not in BY_NAME:
            raise SimulationError(
                f"--effects: no metric {name!r} (one of {', '.join(METRIC_NAMES)})")


def check_design(axes: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """A 2^k design: at least one axis, each with exactly two values."""
    if not axes:
        raise SimulationError("--effects needs settings to vary: --sweep or --compare, "
                              "two values each")
    for name, values in axes:
        if len(values) != 2:
            raise SimulationError(
                f"--effects needs two values per setting (a 2^k factorial design); {name} "
                f"has {len(values)}")


def effects(factors: Sequence[Factor], levels: Sequence[Sequence[int]],
            values: Sequence[Sequence[float]]) -> list[Effect]:
    """Main effects and two-factor interactions, largest first.

    ``levels[p][j]`` is 0 or 1, the value of factor ``j`` at point ``p``; ``values[p][r]``
    the metric at point ``p`` in replication ``r``. A replication where the metric is
    undefined at some point is left out (it has no estimate of any effect)."""
    k, points = len(factors), len(levels)
    signs = [[1.0 if levels[p][j] else -1.0 for p in range(points)] for j in range(k)]
    replications = [
        [values[p][r] for p in range(points)]
        for r in range(min(len(v) for v in values))
        if not any(math.isnan(values[p][r]) for p in range(points))
    ]
    scale = 2 / points

    def estimate_of(sign: Sequence[float]) -> Estimate:
        return estimate([scale * math.fsum(s * y for s, y in zip(sign, row, strict=True))
                         for row in replications])

    found = [Effect((factors[j],), estimate_of(signs[j])) for j in range(k)]
    for a, b in itertools.combinations(range(k), 2):
        product = [x * y for x, y in zip(signs[a], signs[b], strict=True)]
        found.append(Effect((factors[a], factors[b]), estimate_of(product)))
    return sorted(found, key=lambda e: -abs(e.estimate.mean) if e.estimate.n else 0.0)
