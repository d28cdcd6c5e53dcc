"""Reading Locust's results, judging thresholds, and the summary table (pure: no Locust).

Locust writes its final statistics with ``--json-file``: one entry per request name, each
with a histogram of response times. The users name an expected refusal
``<operation> [<code>]`` (``create_order [items_unavailable]``), so a step's figures are the
sum of its entries, and its percentiles come from the merged histograms, computed the way
Locust computes its own.

A threshold reads ``[STEP:]METRIC OP VALUE``, k6-style::

    create_order:p95<500ms      add_to_cart:p99<=1s     failures<1%
    p95<800                     view_product:rps>=5     dropped<0.05

``METRIC`` is ``pNN`` (any percentile, e.g. p95, p99.9), ``avg`` or ``max`` (ms; ``s`` and
``ms`` suffixes accepted), ``rps``, ``requests``, ``failures`` (share of requests that
failed; ``%`` accepted), or, for the whole run only, ``dropped`` (share of scheduled
arrivals the open workload could not start). Without ``STEP`` a threshold is on all
requests together.
"""

from __future__ import annotations

import csv
import json
import math
import operator
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load.metrics import RunMetrics, percentile
from load.plan import OPERATIONS

_REFUSAL_NAME = re.compile(r"^(?P<op>.+) \[(?P<code>[^\]]+)\]$")


def step_of(name: str) -> tuple[str, str | None]:
    """``("create_order", "items_unavailable")`` for ``"create_order [items_unavailable]"``."""
    match = _REFUSAL_NAME.match(name)
    return (match["op"], match["code"]) if match else (name, None)


@dataclass
class StepStats:
    name: str
    requests: int = 0
    failures: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    response_times: Counter[int] = field(default_factory=Counter)
    total_ms: float = 0.0
    max_ms: float = 0.0

    def add(self, entry: Mapping[str, Any], refusal: str | None) -> None:
        requests = int(entry["num_requests"])
        self.requests += requests
        self.failures += int(entry["num_failures"])
        if refusal is not None:
            self.refusals[refusal] += requests - int(entry["num_failures"])
        self.response_times.update({int(k): int(v) for k, v in entry["response_times"].items()})
        self.total_ms += float(entry["total_response_time"])
        self.max_ms = max(self.max_ms, float(entry["max_response_time"]))

    @property
    def refused(self) -> int:
        return sum(self.refusals.values())

    @property
    def avg_ms(self) -> float:
        return self.total_ms / self.requests if self.requests else 0.0

    @property
    def failure_ratio(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    def percentile(self, fraction: float) -> int:
        # Histogram keys are rounded (Locust's buckets); never report more than the max.
        return min(percentile(self.response_times, fraction), math.ceil(self.max_ms))


@dataclass
class RunStats:
    steps: dict[str, StepStats]
    total: StepStats
    duration: float

    def rps(self, step: StepStats) -> float:
        return step.requests / self.duration if self.duration > 0 else 0.0

    @classmethod
    def from_entries(cls, entries: Iterable[Mapping[str, Any]]) -> RunStats:
        steps: dict[str, StepStats] = {}
        total = StepStats("all")
        starts, ends = [], []
        for entry in entries:
            op, refusal = step_of(str(entry["name"]))
            steps.setdefault(op, StepStats(op)).add(entry, refusal)
            total.add(entry, refusal)
            starts.append(float(entry["start_time"]))
            if entry.get("last_request_timestamp"):
                ends.append(float(entry["last_request_timestamp"]))
        duration = max(ends) - min(starts) if starts and ends else 0.0
        order = {op: i for i, op in enumerate(OPERATIONS)}
        ordered = dict(sorted(steps.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
        return cls(ordered, total, duration)

    @classmethod
    def read(cls, path: Path) -> RunStats:
        return cls.from_entries(json.loads(path.read_text(encoding="utf-8")))


def top_failures(failures_csv: Path, limit: int = 5) -> list[tuple[str, str, int]]:
    """``(request name, error, occurrences)`` from Locust's ``*_failures.csv``, most first."""
    if not failures_csv.exists():
        return []
    with failures_csv.open(newline="", encoding="utf-8") as handle:
        rows = [(r["Name"], r["Error"], int(r["Occurrences"])) for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: -r[2])[:limit]


# -- thresholds ------------------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt,
}
_THRESHOLD = re.compile(
    r"^\s*(?:(?P<step>[A-Za-z_][\w .\[\]-]*?)\s*:\s*)?(?P<metric>[a-z]+[\d.]*)\s*"
    r"(?P<op><=|>=|<|>)\s*(?P<value>[\d.]+)\s*(?P<unit>ms|s|%)?\s*$"
)
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
_TIME_METRICS = ("avg", "max")
_RATIO_METRICS = ("failures", "dropped")
_COUNT_METRICS = ("rps", "requests")


@dataclass(frozen=True, slots=True)
class Threshold:
    text: str
    step: str | None
    metric: str
    op: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> Threshold:
        match = _THRESHOLD.match(text)
        if match is None:
            raise ValueError(f"threshold {text!r} is not [STEP:]METRIC<VALUE "
                             "(e.g. create_order:p95<500ms, failures<1%)")
        step, metric, op, unit = match["step"], match["metric"], match["op"], match["unit"]
        try:
            value = float(match["value"])
        except ValueError:
            raise ValueError(f"threshold {text!r}: {match['value']!r} is not a number") from None
        timed = _PERCENTILE.match(metric) is not None or metric in _TIME_METRICS
        if _PERCENTILE.match(metric):
            if not 0 < float(metric[1:]) <= 100:
                raise ValueError(f"threshold {text!r}: percentile must be in (0, 100]")
        elif metric not in _TIME_METRICS + _RATIO_METRICS + _COUNT_METRICS:
            raise ValueError(f"threshold {text!r}: unknown metric {metric!r} (pNN, avg, max, "
                             "rps, requests, failures, dropped)")
        if unit in ("ms", "s") and not timed:
            raise ValueError(f"threshold {text!r}: {metric} is not a time")
        if unit == "%" and metric not in _RATIO_METRICS:
            raise ValueError(f"threshold {text!r}: {metric} is not a ratio")
        if unit == "s":
            value *= 1000
        elif unit == "%":
            value /= 100
        if step is not None and metric == "dropped":
            raise ValueError(f"threshold {text!r}: dropped is a figure of the whole run")
        if step is not None and step not in OPERATIONS:
            raise ValueError(f"threshold {text!r}: unknown step {step!r}; steps are "
                             f"{', '.join(OPERATIONS)}")
        return cls(text.strip(), step, metric, op, value)

    def measure(self, stats: RunStats, metrics: RunMetrics) -> float | None:
        """The measured value, or None when there is nothing to measure."""
        if self.metric == "dropped":
            return metrics.dropped_ratio if metrics.scheduled else None
        step = stats.total if self.step is None else stats.steps.get(self.step)
        if step is None or step.requests == 0:
            return None
        if self.metric == "failures":
            return step.failure_ratio
        if self.metric == "rps":
            return stats.rps(step)
        if self.metric == "requests":
            return float(step.requests)
        if self.metric == "avg":
            return step.avg_ms
        if self.metric == "max":
            return step.max_ms
        return float(step.percentile(float(self.metric[1:]) / 100))

    def judge(self, stats: RunStats, metrics: RunMetrics) -> ThresholdResult:
        value = self.measure(stats, metrics)
        # No requests to judge is a breach: a threshold that silently passes on nothing
        # would hide a step the run never reached.
        ok = value is not None and _OPS[self.op](value, self.limit)
        return ThresholdResult(self, value, ok)


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    threshold: Threshold
    value: float | None
    ok: bool

    def shown_value(self) -> str:
        if self.value is None:
            return "no data"
        metric = self.threshold.metric
        if metric in _RATIO_METRICS:
            return f"{self.value:.2%}"
        if metric in _COUNT_METRICS:
            return f"{self.value:.1f}"
        return f"{self.value:.0f} ms"


#: Unless a threshold on all requests' failures is given: more than 1% failed requests
#: (refusals the scenario expects are not failures) fails the run, as k6's usual
#: ``http_req_failed: rate<0.01``.
DEFAULT_FAILURE_THRESHOLD = "failures<1%"


def with_default_thresholds(thresholds: list[Threshold]) -> list[Threshold]:
    if any(t.step is None and t.metric == "failures" for t in thresholds):
        return thresholds
    return [*thresholds, Threshold.parse(DEFAULT_FAILURE_THRESHOLD)]
