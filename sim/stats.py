"""Confidence intervals over independent replications, and paired differences.

Each replication gives one value of a metric; the replications are independent and
identically distributed (their seeds come from ``SeedSequence.spawn``), so the mean's 95%
confidence interval is ``mean +- t(0.975, n-1) * s / sqrt(n)`` (Student t). A replication
where a metric is undefined (a percentile of no paid orders) is left out of that metric.

Two policies run on the same replication seeds see the same buyers (common random numbers);
their paired difference per replication has a far smaller variance than the difference of
two independent means, so it is what a comparison reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class Estimate:
    mean: float
    half_width: float  # nan with fewer than two values
    n: int
    std: float

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_json(self) -> dict[str, float | int | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "mean": clean(self.mean),
            "ci_low": clean(self.low),
            "ci_high": clean(self.high),
            "half_width": clean(self.half_width),
            "std": clean(self.std),
            "n": self.n,
        }


@cache
def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """Student's t quantile for a two-sided interval from ``n`` values."""
    from scipy import stats  # imported when first needed: it alone takes most of a second

    return float(stats.t.ppf(0.5 + confidence / 2, n - 1))


def estimate(values: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    finite = [v for v in values if not math.isnan(v)]
    n = len(finite)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan)
    mean = math.fsum(finite) / n
    if n == 1:
        return Estimate(mean, math.nan, 1, math.nan)
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    return Estimate(mean, t_quantile(n, confidence) * std / math.sqrt(n), n, std)


def paired_difference(
    baseline: Sequence[float], other: Sequence[float], confidence: float = CONFIDENCE
) -> Estimate:
    """``other - baseline``, replication by replication (the pairs where both are defined)."""
    if len(baseline) != len(other):
        raise ValueError("paired samples need the same replications")
    diffs = [
        b - a for a, b in zip(baseline, other, strict=True) if not (math.isnan(a) or math.isnan(b))
    ]
    return estimate(diffs, confidence)
