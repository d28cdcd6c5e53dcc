"""Two load runs compared: did the candidate get slower, lose throughput, fail more, or break
an invariant the baseline kept? (``purchaseflow load-diff``; pure: no Locust here.)

Two runs of the same load never give the same p95, and a load test's response times are
far from independent (a queue that builds up slows every request behind it), so comparing
two whole-run percentiles, or bootstrapping them request by request, would call noise a
regression. The runs' windows (``latency.json``: a histogram per step and per 2 s) are
treated as batches instead (the batch means method): consecutive windows are merged until
each batch holds enough requests for the percentile (``2 / (1 - q)``: 40 for p95), each
batch's percentile is one observation, and the two runs' batches are compared with
Welch's t interval for the difference of their means. The difference is then judged
against ``--tolerance`` (10% of the baseline unless told), as an equivalence test would:

* **slower** (a regression): the whole 95% interval lies above ``+tolerance``;
* **faster**: the whole interval lies below ``-tolerance``;
* **same**: the whole interval lies within ``+-tolerance``;
* **unclear**: the interval straddles a bound: the runs are too short or too noisy to
  tell at this tolerance; a longer run, or a larger tolerance, decides.

``--floor MS`` widens the tolerance of the response times to at least that many
milliseconds: at 2 ms, +100% is two milliseconds, which may not matter.

Throughput (requests a second per window) is judged the same way, lower being worse.
Failures: the share of a step's requests that failed, by a one-sided two-proportion test
(a regression when the candidate's share is higher at 95%). Correctness: an invariant the
candidate's audit found broken and the baseline's did not is a regression, whatever the
speed.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

from load.metrics import LATENCY_FILE, LatencyWindows, percentile

SLOWER, FASTER, SAME, UNCLEAR = "slower", "faster", "same", "unclear"
FEWER, MORE = "fewer", "more"  # throughput's words for a drop and a rise
TOO_FEW = "too few requests"
#: Batches a run needs on each side for an interval (Welch's t with fewer means little).
MIN_BATCHES = 3
CONFIDENCE = 0.95


class DiffError(Exception):
    """A folder that is not a run's output, or an option that makes no sense: one line."""


@dataclass(frozen=True)
class Run:
    path: Path
    title: str
    steps: Mapping[str, Mapping[str, Any]]
    audit: Mapping[str, Any] | None
    latency: LatencyWindows

    @classmethod
    def read(cls, folder: Path) -> Run:
        summary, latency = folder / "summary.json", folder / LATENCY_FILE
        if not summary.is_file():
            raise DiffError(f"{folder}: no summary.json (not the --out folder of a "
                            "purchaseflow load run)")
        if not latency.is_file():
            raise DiffError(f"{folder}: no {LATENCY_FILE} (a run from before purchaseflow "
                            "recorded response times per window, or one that sent no "
                            "request: run it again)")
        try:
            data = json.loads(summary.read_text(encoding="utf-8"))
            windows = LatencyWindows.from_json(json.loads(latency.read_text(encoding="utf-8")))
            return cls(folder, str(data["title"]), data["steps"], data.get("audit"), windows)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise DiffError(f"{folder}: summary.json or {LATENCY_FILE} is not a run's "
                            f"({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class Change:
    """One figure of one step in both runs, and what the difference says."""

    step: str
    metric: str  # p50, p95, ..., rps, failures
    baseline: float
    candidate: float
    low: float  # the 95% interval of candidate - baseline, relative to the baseline
    high: float
    verdict: str
    batches: tuple[int, int] = (0, 0)  # observations on each side

    @property
    def regression(self) -> bool:
        worse = {"rps": FEWER, "failures": MORE}.get(self.metric, SLOWER)
        return self.verdict == worse


@dataclass
class Diff:
    baseline: Run
    candidate: Run
    tolerance: float
    changes: list[Change] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # invariants only the candidate broke
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]

    @property
    def exit_code(self) -> int:
        return 1 if self.regressions or self.broken else 0

    def verdict(self) -> str:
        reasons = [f"{c.step} {c.metric} {c.verdict}" for c in self.regressions]
        if self.broken:
            reasons.append(f"invariants broken only by the candidate: {', '.join(self.broken)}")
        return "NO REGRESSION" if not reasons else "REGRESSION: " + "; ".join(reasons)

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": str(self.baseline.path), "candidate": str(self.candidate.path),
            "tolerance": self.tolerance, "verdict": self.verdict(),
            "exit_code": self.exit_code,
            "changes": [
                {"step": c.step, "metric": c.metric, "baseline": c.baseline,
                 "candidate": c.candidate, "relative_low": _finite(c.low),
                 "relative_high": _finite(c.high), "verdict": c.verdict,
                 "batches": list(c.batches)}
                for c in self.changes
            ],
            "invariants_broken_by_candidate": self.broken,
            "notes": self.notes,
        }


def _finite(x: float) -> float | None:
    return None if math.isnan(x) or math.isinf(x) else round(x, 4)


def batches(windows: Mapping[int, Counter[int]], need: int, skip: int) -> list[Counter[int]]:
    """Consecutive windows from ``skip`` on, merged until each batch holds ``need``
    requests; the last window (cut short by the end of the load) and a short tail are left
    out."""
    if not windows:
        return []
    last = max(windows)
    out: list[Counter[int]] = []
    current: Counter[int] = Counter()
    for index in range(skip, last):
        current.update(windows.get(index, {}))
        if current.total() >= need:
            out.append(current)
            current = Counter()
    return out


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """``mean(b) - mean(a)`` and its 95% interval (Welch's t)."""
    from scipy import stats

    mean_a, mean_b = statistics.fmean(a), statistics.fmean(b)
    var_a, var_b = statistics.variance(a, mean_a), statistics.variance(b, mean_b)
    se2 = var_a / len(a) + var_b / len(b)
    diff = mean_b - mean_a
    if se2 == 0:
        return diff, diff, diff
    df = se2**2 / ((var_a / len(a)) ** 2 / (len(a) - 1) + (var_b / len(b)) ** 2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df)) * math.sqrt(se2)
    return diff, diff - half, diff + half


def judge(low: float, high: float, tolerance: float, *, worse: str, better: str) -> str:
    """An equivalence-style verdict on a relative interval, ``worse`` above it."""
    if low > tolerance:
        return worse
    if high < -tolerance:
        return better
    if -tolerance <= low and high <= tolerance:
        return SAME
    return UNCLEAR


def _relative(a: Sequence[float], b: Sequence[float], tolerance: float, *, worse: str,
              better: str, floor: float = 0.0) -> tuple[float, float, float, float, str]:
    """Means of both, the relative interval, and the verdict; a change smaller than
    ``floor`` (in the figures' own unit) is within the tolerance however large relatively."""
    mean_a = sum(a) / len(a) if a else math.nan
    mean_b = sum(b) / len(b) if b else math.nan
    if len(a) < MIN_BATCHES or len(b) < MIN_BATCHES:
        return mean_a, mean_b, math.nan, math.nan, TOO_FEW
    _, low, high = welch(a, b)
    scale = abs(mean_a) or 1.0
    tolerance = max(tolerance, floor / scale)
    return mean_a, mean_b, low / scale, high / scale, judge(
        low / scale, high / scale, tolerance, worse=worse, better=better)


def compare_latency(step: str, fraction: float, a: Run, b: Run, tolerance: float,
                    skip: float, floor_ms: float = 0.0) -> Change:
    need = math.ceil(2 / (1 - fraction))
    sides = []
    for run in (a, b):
        windows = run.latency.steps.get(step, {})
        first = math.ceil(skip / run.latency.seconds)
        sides.append([float(percentile(h, fraction)) for h in batches(windows, need, first)])
    mean_a, mean_b, low, high, verdict = _relative(sides[0], sides[1], tolerance,
                                                   worse=SLOWER, better=FASTER, floor=floor_ms)
    return Change(step, f"p{100 * fraction:g}", mean_a, mean_b, low, high, verdict,
                  (len(sides[0]), len(sides[1])))


def compare_throughput(step: str, a: Run, b: Run, tolerance: float, skip: float) -> Change:
    sides = []
    for run in (a, b):
        windows = run.latency.steps.get(step, {})
        first, seconds = math.ceil(skip / run.latency.seconds), run.latency.seconds
        last = max(windows, default=first)
        sides.append([windows[w].total() / seconds if w in windows else 0.0
                      for w in range(first, last)])
    if not (sides[0] and sides[1]):
        return Change(step, "rps", 0.0, 0.0, math.nan, math.nan, TOO_FEW)
    # A rise in throughput is "more", a drop "fewer" (the regression).
    mean_a, mean_b, low, high, verdict = _relative(sides[0], sides[1], tolerance,
                                                   worse=MORE, better=FEWER)
    return Change(step, "rps", mean_a, mean_b, low, high, verdict,
                  (len(sides[0]), len(sides[1])))


def compare_failures(step: str, a: Run, b: Run) -> Change:
    """A two-proportion z-test at 95% one-sided each way: ``more`` failures (a regression)
    or ``fewer``; ``same`` only where the shares are equal."""
    fa, na = int(a.steps[step]["failed"]), int(a.steps[step]["requests"])
    fb, nb = int(b.steps[step]["failed"]), int(b.steps[step]["requests"])
    pa, pb = fa / na if na else 0.0, fb / nb if nb else 0.0
    if not (na and nb):
        return Change(step, "failures", pa, pb, math.nan, math.nan, TOO_FEW)
    pooled = (fa + fb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    z = NormalDist().inv_cdf(CONFIDENCE)
    if pa == pb:
        verdict = SAME
    elif abs(pb - pa) > z * se:
        verdict = MORE if pb > pa else FEWER
    else:
        verdict = UNCLEAR
    half = z * se
    return Change(step, "failures", pa, pb, pb - pa - half, pb - pa + half, verdict)


def _broken(audit: Mapping[str, Any] | None) -> set[str]:
    if not audit:
        return set()
    return {str(f["invariant"]) for f in audit.get("findings", [])}


def diff(baseline: Run, candidate: Run, *, percentiles: Iterable[float] = (0.5, 0.95, 0.99),
         tolerance: float = 0.1, skip: float = 0.0,
         steps: Sequence[str] | None = None, floor_ms: float = 0.0) -> Diff:
    if not 0 < tolerance < 1:
        raise DiffError(f"--tolerance must be between 0 and 1 (0.1, or 10%), not {tolerance:g}")
    if skip < 0:
        raise DiffError(f"--skip must be 0 or more seconds, not {skip:g}")
    if floor_ms < 0:
        raise DiffError(f"--floor must be 0 or more milliseconds, not {floor_ms:g}")
    fractions = list(percentiles)
    for q in fractions:
        if not 0 < q < 1:
            raise DiffError(f"--percentiles: {100 * q:g} is not a percentile between 0 and 100")
    result = Diff(baseline, candidate, tolerance)
    common = [s for s in baseline.steps if s in candidate.steps and s != "all"]
    if steps is not None:
        unknown = [s for s in steps if s not in common]
        if unknown:
            raise DiffError(f"--steps: {', '.join(unknown)} not in both runs (they share "
                            f"{', '.join(common) or 'none'})")
        common = list(steps)
    if baseline.title != candidate.title:
        result.notes.append(f"the runs differ: {baseline.title!r} against "
                            f"{candidate.title!r}")
    only = sorted(set(baseline.steps) ^ set(candidate.steps))
    if only:
        result.notes.append(f"steps in one run only, not compared: {', '.join(only)}")
    for step in common:
        for q in fractions:
            result.changes.append(compare_latency(step, q, baseline, candidate, tolerance,
                                                  skip, floor_ms))
        result.changes.append(compare_throughput(step, baseline, candidate, tolerance, skip))
        result.changes.append(compare_failures(step, baseline, candidate))
    result.broken = sorted(_broken(candidate.audit) - _broken(baseline.audit))
    return result
