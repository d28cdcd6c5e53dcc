"""Replications, sweeps and comparisons, run in parallel processes or on a Dask cluster.

An experiment is a grid of points (every combination of the ``--sweep`` values, and of the
``--compare`` values last) times ``replications`` runs each. Replication ``r`` uses the same
seed at every point: common random numbers, so that points differ only by their settings
and a comparison can report paired differences.

Runs are independent tasks; the result does not depend on how many processes ran them
or in which order they finished (results are put back in point and replication order).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from reference_impl.domain.trace import TraceEvent
from scenarios.schema import Scenario
from sim.effects import Effect, Factor, check_design, check_metrics, effects
from sim.errors import SimulationError
from sim.feasibility import require_steady_state
from sim.invariants import Violation
from sim.metrics import METRIC_NAMES
from sim.model import RunResult, simulate
from sim.params import Axis, apply
from sim.precision import Precision, Shortfall, shortfalls
from sim.selection import GroupSelection, SelectBest, groups, select
from sim.stats import Estimate, estimate, paired_difference
from sim.warmup import WarmupCheck, check_point, series_horizon


def ordered_axes(axes: Sequence[Axis], compare: Axis | None) -> list[Axis]:
    """The sweep axes, then the compare axis: the order of a point's settings."""
    return [*axes, *([compare] if compare else [])]


@dataclass(frozen=True, slots=True)
class Point:
    index: int
    settings: tuple[tuple[str, Any], ...]  # (axis name, value), sweep axes then compare
    scenario: Scenario

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.settings) or "scenario"


@dataclass(frozen=True, slots=True)
class Task:
    """One run: everything a worker process needs, picklable."""

    point: int
    replication: int
    scenario: Scenario
    seed: int
    until: float | None
    tracing: bool = False
    series: bool = False  # occupancy over time, for the warm-up check


def run_task(task: Task) -> RunResult:
    result = simulate(
        task.scenario, seed=task.seed, replication=task.replication, until=task.until,
        tracing=task.tracing, series=task.series,
    )
    result.point = task.point
    return result


@dataclass(frozen=True, slots=True)
class Comparison:
    """Paired differences of one point against the baseline of its compare axis."""

    point: int
    baseline: int
    differences: dict[str, Estimate]


@dataclass(frozen=True, slots=True)
class FirstViolation:
    point: int
    replication: int
    violation: Violation
    trace: list[TraceEvent]


@dataclass(frozen=True, slots=True)
class Sequential:
    """How a sequential experiment (``--precision``) went."""

    precision: Precision
    rounds: tuple[int, ...]  # replications per point after each round, the pilot first
    shortfalls: tuple[Shortfall, ...]  # what was still too wide when it stopped: none if met

    @property
    def met(self) -> bool:
        return not self.shortfalls


@dataclass(frozen=True, slots=True)
class Selection:
    """How ``--select-best`` went: KN's answer in each group of compared points."""

    spec: SelectBest
    rounds: tuple[int, ...]  # replications per point after each round, the pilot first
    groups: tuple[GroupSelection, ...]

    @property
    def decided(self) -> bool:
        return all(group.decided for group in self.groups)


@dataclass
class ExperimentResult:
    scenario: Scenario
    seed: int
    replications: int
    axes: list[Axis]
    compare: Axis | None
    points: list[Point]
    runs: list[list[RunResult]]  # by point, then replication
    summaries: list[dict[str, Estimate]] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    first_violation: FirstViolation | None = None
    sequential: Sequential | None = None  # with --precision: how the replications grew
    warmup_checks: list[WarmupCheck] = field(default_factory=list)  # with --warmup-check
    selection: Selection | None = None  # with --select-best
    effects: dict[str, list[Effect]] = field(default_factory=dict)  # with --effects

    def values(self, point: int, metric: str) -> list[float]:
        return [run.metrics.get(metric, math.nan) for run in self.runs[point]]

    @property
    def all_axes(self) -> list[Axis]:
        return ordered_axes(self.axes, self.compare)

    @property
    def cpu_seconds(self) -> float:
        return sum(run.cpu_seconds for runs in self.runs for run in runs)

    @property
    def violations(self) -> int:
        return sum(len(run.violations) for runs in self.runs for run in runs)


@dataclass
class Experiment:
    scenario: Scenario
    replications: int = 1
    seed: int | None = None
    axes: list[Axis] = field(default_factory=list)
    compare: Axis | None = None
    until: float | None = None
    tracing: bool = False
    #: Run more replications until the intervals are this narrow (``sim.precision``);
    #: ``replications`` is then the pilot.
    precision: Precision | None = None
    #: Check each point's warm-up with MSER-5 (``sim.warmup``).
    warmup_check: bool = False
    #: Run more replications until the best ``--compare`` value is known (``sim.selection``);
    #: ``replications`` is then the pilot.
    select_best: SelectBest | None = None
    #: Report these metrics' factorial effects (``sim.effects``): every axis two values.
    effects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.replications < 1:
            raise SimulationError(f"--replications must be at least 1, not {self.replications}")
        if self.precision is not None:
            if self.precision.differences and self.compare is None:
                raise SimulationError(
                    f"--precision-for {self.precision.differences[0]}: a difference needs "
                    "--compare (the paired difference of each value against the first)"
                )
            self._check_pilot("--precision", self.precision.max_replications)
        if self.select_best is not None:
            if self.compare is None or len(self.compare.values) < 2:
                raise SimulationError(
                    "--select-best chooses among the values of --compare: give at least two")
            self._check_pilot("--select-best", self.select_best.max_replications)
        if self.effects:
            check_metrics(self.effects)
            check_design([(a.name, a.values) for a in self.all_axes])
        if self.until is not None and self.until <= 0:
            raise SimulationError(f"--until must be a positive time, not {self.until:g}")
        names = [a.path for a in self.axes] + ([self.compare.path] if self.compare else [])
        if len(set(names)) != len(names):
            raise SimulationError("a parameter is swept or compared twice")
        self.points()  # every combination is validated before anything runs

    def _check_pilot(self, option: str, cap: int) -> None:
        """A sequential procedure's pilot (``--replications``) and its cap."""
        if self.replications < 2:
            raise SimulationError(
                f"{option} needs a pilot of at least 2 replications (--replications), "
                f"not {self.replications}: one gives no variance to go on"
            )
        if cap < self.replications:
            raise SimulationError(
                f"--max-replications ({cap}) is below the pilot's --replications "
                f"({self.replications})"
            )

    @property
    def run_seed(self) -> int:
        return self.scenario.run.seed if self.seed is None else self.seed

    @property
    def all_axes(self) -> list[Axis]:
        return ordered_axes(self.axes, self.compare)

    def points(self) -> list[Point]:
        axes = self.all_axes
        points = []
        for index, combo in enumerate(itertools.product(*(a.values for a in axes))):
            # Each combination as a whole: a value may be valid only beside another one
            # (run.duration=600 with run.warmup=0).
            settings = {a.path: v for a, v in zip(axes, combo, strict=True)}
            option = "--sweep/--compare" if self.axes and self.compare else (
                "--compare" if self.compare else "--sweep"
            )
            scenario = apply(self.scenario, settings, option) if settings else self.scenario
            require_steady_state(scenario)
            labels = tuple((a.name, v) for a, v in zip(axes, combo, strict=True))
            points.append(Point(index, labels, scenario))
        return points

    def tasks(self, points: Sequence[Point], replications: range | None = None) -> list[Task]:
        """The runs of ``replications`` (default: the first ``self.replications``) at each
        point."""
        wanted = range(self.replications) if replications is None else replications
        return [
            Task(p.index, r, p.scenario, self.run_seed, self.until, self.tracing,
                 self.warmup_check)
            for p in points
            for r in wanted
        ]


Progress = Callable[[RunResult], None]
#: Told the new number of runs in all when a sequential experiment plans another round.
Planned = Callable[[int], None]


def run_experiment(
    experiment: Experiment,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
    planned: Planned | None = None,
) -> ExperimentResult:
    if workers < 1:
        raise SimulationError(f"--workers must be at least 1, not {workers}")
    points = experiment.points()
    precision = experiment.precision
    outcome = ExperimentResult(
        scenario=experiment.scenario,
        seed=experiment.run_seed,
        replications=0,
        axes=list(experiment.axes),
        compare=experiment.compare,
        points=points,
        runs=[[] for _ in points],
    )
    tasks: list[Task] = []
    rounds: list[int] = []
    short: list[Shortfall] = []
    chosen = experiment.select_best
    selections: list[GroupSelection] = []
    wanted = experiment.replications
    while True:
        # Each round runs replications ``done .. wanted - 1`` at every point.
        batch = experiment.tasks(points, range(outcome.replications, wanted))
        tasks += batch
        for result in execute(batch, workers=workers, scheduler=scheduler, progress=progress):
            outcome.runs[result.point].append(result)
        for point_runs in outcome.runs:
            point_runs.sort(key=lambda r: r.replication)
        outcome.replications = wanted
        rounds.append(wanted)
        outcome.summaries = [
            {name: estimate(outcome.values(p.index, name)) for name in METRIC_NAMES}
            for p in points
        ]
        outcome.comparisons = _comparisons(outcome)
        # Each sequential procedure proposes the replications its next round needs; the
        # round runs the most proposed, at every point (the points stay paired).
        proposals = []
        if precision is not None:
            short = shortfalls(outcome.summaries, precision, outcome.comparisons)
            if short and wanted < precision.max_replications:
                proposals.append(min(max(wanted + 1, *(s.needed for s in short)),
                                     precision.max_replications))
        if chosen is not None:
            selections = _select(outcome, chosen, experiment.replications)
            if wanted < chosen.max_replications:
                proposals += [min(g.wanted, chosen.max_replications)
                              for g in selections if not g.decided]
        if not proposals:
            break
        wanted = max(proposals)
        if planned is not None:
            planned(len(points) * wanted)
    if precision is not None:
        outcome.sequential = Sequential(precision, tuple(rounds), tuple(short))
    if chosen is not None:
        outcome.selection = Selection(chosen, tuple(rounds), tuple(selections))
    outcome.effects = {metric: _effects(outcome, metric) for metric in experiment.effects}
    outcome.first_violation = _first_violation(outcome, tasks)
    if experiment.warmup_check:
        outcome.warmup_checks = _warmup_checks(outcome)
    return outcome


def _effects(outcome: ExperimentResult, metric: str) -> list[Effect]:
    axes = outcome.all_axes
    k = len(axes)
    # The grid is itertools.product of two values per axis, the last axis fastest: point
    # p's value of axis j is bit (k - 1 - j) of p.
    levels = [[(p.index >> (k - 1 - j)) & 1 for j in range(k)] for p in outcome.points]
    factors = [Factor(a.name, a.values[0], a.values[1]) for a in axes]
    return effects(factors, levels, [outcome.values(p.index, metric) for p in outcome.points])


def _select(outcome: ExperimentResult, spec: SelectBest, pilot: int) -> list[GroupSelection]:
    compare = outcome.compare
    assert compare is not None
    return select(
        [outcome.values(p.index, spec.metric) for p in outcome.points],
        groups(len(outcome.points), len(compare.values)),
        [p.label for p in outcome.points], pilot, spec,
    )


def _warmup_checks(outcome: ExperimentResult) -> list[WarmupCheck]:
    checks = []
    for point, point_runs in zip(outcome.points, outcome.runs, strict=True):
        series = [run.series for run in point_runs if run.series is not None]
        if not series:
            continue  # every run ended at time 0: nothing to look at
        run = point.scenario.run
        horizon = min(series_horizon(run.duration, r.ended_at) for r in point_runs)
        checks.append(check_point(point.index, run.warmup, horizon, series))
    return checks


def execute(
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[RunResult]:
    """Run the tasks here, in ``workers`` processes, or on the Dask cluster at ``scheduler``."""
    done = progress or (lambda _: None)
    if scheduler is not None:
        from sim.cluster import run_on_dask

        return run_on_dask(scheduler, tasks, done)
    if workers == 1 or len(tasks) == 1:
        results = []
        for task in tasks:
            results.append(run_task(task))
            done(results[-1])
        return results
    results = []
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        # Every task is submitted before the first result is awaited, so that the worker
        # processes start before a progress display starts its refresh thread.
        futures = [pool.submit(run_task, task) for task in tasks]
        for future in as_completed(futures):
            results.append(future.result())
            done(results[-1])
    return results


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def _comparisons(outcome: ExperimentResult) -> list[Comparison]:
    compare = outcome.compare
    if compare is None:
        return []
    per_group = len(compare.values)  # the compare axis varies fastest
    comparisons = []
    for point in outcome.points:
        baseline = point.index - point.index % per_group
        if baseline == point.index:
            continue
        comparisons.append(
            Comparison(
                point=point.index,
                baseline=baseline,
                differences={
                    name: paired_difference(
                        outcome.values(baseline, name), outcome.values(point.index, name)
                    )
                    for name in METRIC_NAMES
                },
            )
        )
    return comparisons


def _first_violation(outcome: ExperimentResult, tasks: Sequence[Task]) -> FirstViolation | None:
    """The earliest violation of the first run that has any, with that order's trace.

    Runs are deterministic, so a run made without tracing is made again with it.
    """
    for runs in outcome.runs:
        for run in runs:
            if not run.violations:
                continue
            violation = run.violations[0]
            trace = run.trace
            if trace is None:
                task = next(
                    t for t in tasks if (t.point, t.replication) == (run.point, run.replication)
                )
                traced = run_task(
                    Task(task.point, task.replication, task.scenario, task.seed, task.until,
                         tracing=True)
                )
                trace = traced.trace or []
            wanted = violation.correlation_id
            events = [e for e in trace if wanted and e.correlation_id == wanted]
            return FirstViolation(run.point, run.replication, violation, events)
    return None
