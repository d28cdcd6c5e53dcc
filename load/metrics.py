"""The run's own metrics, beside Locust's request statistics (pure: no Locust here).

Each Locust process counts how its buyer sessions ended, what happened to the arrivals it
was to dispatch (open workload), and the CPU time it spent. Workers send a cumulative
snapshot with every report to the master, which keeps the latest one per worker; the
master (or the only process) writes the merged snapshot to ``LoadConfig.metrics_path``.

Start lag (from an arrival's scheduled time to the moment a user starts it) is kept as a
histogram in Locust's rounding (whole ms below 100 ms, then 2 significant digits), so that
snapshots merge by adding counts.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: How a buyer's session ended (the simulator's SessionEnd vocabulary, plus ``error``).
SESSION_ENDS = (
    "bounced",      # arrived and left before browsing
    "browsed",      # browsed or viewed, never added to a cart
    "left_cart",    # filled a cart, did not check out
    "turned_away",  # refused for lack of stock (add to cart or checkout)
    "refused",      # refused for another documented reason (inactive account, gateway down)
    "ordered",      # checked out (hosted), did not complete the payment
    "paid",         # payment succeeded
    "declined",     # payment declined
    "abandoned",    # a step took longer than the buyer's patience
    "error",        # a request failed unexpectedly
)


#: What ``RunMetrics.retries`` counts.
RETRY_COUNTS = ("sent", "recovered", "ran_out")


def round_ms(ms: float) -> int:
    """Locust's rounding of response times (stats.py), so percentiles agree with its own."""
    if ms < 100:
        return round(ms)
    if ms < 1000:
        return int(round(ms, -1))
    if ms < 10000:
        return int(round(ms, -2))
    return int(round(ms, -3))


@dataclass
class RunMetrics:
    sessions: dict[str, Counter[str]] = field(default_factory=dict)
    scheduled: int = 0
    started: int = 0
    dropped: int = 0
    lag_ms: Counter[int] = field(default_factory=Counter)
    #: Checkouts sent again after a transient failure (``--retries``): ``sent`` retries,
    #: checkouts ``recovered`` (a definite answer at last: the order, or a refusal), and
    #: checkouts still without one when the tries ``ran_out``.
    retries: Counter[str] = field(default_factory=Counter)
    #: Exceptions raised in the users' own code (a bug of the load test, not of the shop).
    user_errors: int = 0
    cpu_seconds: float = 0.0
    processes: int = 0

    def session_ended(self, kind: str, end: str) -> None:
        counts = self.sessions.get(kind)
        if counts is None:  # not setdefault: it would build a Counter every session
            counts = self.sessions[kind] = Counter()
        counts[end] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "sessions": {kind: dict(c) for kind, c in self.sessions.items()},
            "arrivals": {"scheduled": self.scheduled, "started": self.started,
                         "dropped": self.dropped,
                         "lag_ms": {str(k): v for k, v in sorted(self.lag_ms.items())}},
            "retries": {key: self.retries[key] for key in RETRY_COUNTS},
            "user_errors": self.user_errors,
            "cpu_seconds": self.cpu_seconds,
            "processes": self.processes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunMetrics:
        arrivals = data.get("arrivals", {})
        return cls(
            sessions={kind: Counter(c) for kind, c in data.get("sessions", {}).items()},
            scheduled=int(arrivals.get("scheduled", 0)),
            started=int(arrivals.get("started", 0)),
            dropped=int(arrivals.get("dropped", 0)),
            lag_ms=Counter({int(k): int(v) for k, v in arrivals.get("lag_ms", {}).items()}),
            retries=Counter({k: int(v) for k, v in data.get("retries", {}).items()}),
            user_errors=int(data.get("user_errors", 0)),
            cpu_seconds=float(data.get("cpu_seconds", 0.0)),
            processes=int(data.get("processes", 0)),
        )

    @classmethod
    def merge(cls, parts: Iterable[RunMetrics]) -> RunMetrics:
        total = cls()
        for part in parts:
            for kind, counts in part.sessions.items():
                total.sessions.setdefault(kind, Counter()).update(counts)
            total.scheduled += part.scheduled
            total.started += part.started
            total.dropped += part.dropped
            total.lag_ms.update(part.lag_ms)
            total.retries.update(part.retries)
            total.user_errors += part.user_errors
            total.cpu_seconds += part.cpu_seconds
            total.processes += part.processes
        return total

    def lag_percentile(self, fraction: float) -> int:
        return percentile(self.lag_ms, fraction)

    @property
    def dropped_ratio(self) -> float:
        return self.dropped / self.scheduled if self.scheduled else 0.0


def percentile(histogram: Mapping[int, int], fraction: float) -> int:
    """Locust's ``calculate_response_time_percentile`` over a {rounded ms: count} histogram."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    below = int(total * fraction)
    seen = 0
    for value in sorted(histogram, reverse=True):
        seen += histogram[value]
        if total - seen <= below:
            return value
    return 0


class CpuClock:
    """This process's CPU seconds from ``start()`` to ``stop()``: the load, and only it.

    Imports and setup before, and the reports after (Locust renders its HTML report with
    a freshly compiled template, a few tenths of a CPU-second), are left out: they are
    the same for any load and would be charged to it per request.
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._stop: float | None = None

    def start(self) -> None:
        if self._start is None:
            self._start = time.process_time()

    def stop(self) -> None:
        if self._start is not None and self._stop is None:
            self._stop = time.process_time()

    def seconds(self) -> float:
        if self._start is None:
            return 0.0
        end = self._stop if self._stop is not None else time.process_time()
        return end - self._start


#: Seconds per window of ``LatencyWindows``: short enough that a minute's run has a few
#: dozen, long enough that a window of a busy step holds a useful histogram.
WINDOW_SECONDS = 2.0
#: The file beside ``metrics.json`` that holds them.
LATENCY_FILE = "latency.json"


def step_of(name: str) -> str:
    """The step a request name belongs to: ``create_order [items_unavailable]`` is a
    refusal of ``create_order``, counted with it as the run's summary counts it."""
    return name.split(" [", 1)[0]


@dataclass
class LatencyWindows:
    """Response times per step and per window of ``seconds`` from the load's start, each a
    histogram in Locust's rounding: what ``purchaseflow load-diff`` compares runs on (a
    window's percentile is one observation; Locust keeps one histogram for the whole run).

    A worker sends the master only the windows it has closed since its last report, so its
    reports stay small however long the run; the master adds them up.
    """

    seconds: float = WINDOW_SECONDS
    steps: dict[str, dict[int, Counter[int]]] = field(default_factory=dict)

    def record(self, step: str, window: int, ms: int) -> None:
        windows = self.steps.get(step)
        if windows is None:
            windows = self.steps[step] = {}
        histogram = windows.get(window)
        if histogram is None:
            histogram = windows[window] = Counter()
        histogram[ms] += 1

    def take(self, before: int | None = None) -> LatencyWindows:
        """Remove and return the windows numbered below ``before`` (None: all of them)."""
        taken = LatencyWindows(self.seconds)
        for step, windows in self.steps.items():
            done = [w for w in windows if before is None or w < before]
            if done:
                taken.steps[step] = {w: windows.pop(w) for w in done}
        return taken

    def add(self, other: LatencyWindows) -> None:
        for step, windows in other.steps.items():
            mine = self.steps.setdefault(step, {})
            for window, histogram in windows.items():
                mine.setdefault(window, Counter()).update(histogram)

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "steps": {
            step: {str(w): {str(ms): n for ms, n in sorted(h.items())}
                   for w, h in sorted(windows.items())}
            for step, windows in sorted(self.steps.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LatencyWindows:
        return cls(float(data["seconds"]), {
            step: {int(w): Counter({int(ms): int(n) for ms, n in h.items()})
                   for w, h in windows.items()}
            for step, windows in data["steps"].items()})
