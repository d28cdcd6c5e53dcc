"""What a ``purchaseflow sim`` command runs: its options over the scenario's ``experiment``.

A scenario may keep its experiment (``experiment:`` in the file: sweeps, a comparison,
a precision, a selection, effects, a warm-up check), so that it runs again as it was with
``purchaseflow sim FILE``. Each option given on the command line replaces its own part of
that plan (``--sweep`` every kept sweep, ``--precision-for`` the kept metrics, and so on).
A problem with a kept part names the file, its line and the field.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

from reference_impl.cli import CommandError, fraction_argument
from scenarios.loader import where
from scenarios.schema import ExperimentAxis, PrecisionTarget, Scenario, SelectBestTarget
from sim.errors import SimulationError
from sim.params import Axis, apply, make_axis, parse_axis
from sim.precision import DEFAULT_MAX_REPLICATIONS, DEFAULT_METRICS, Precision
from sim.selection import SelectBest

T = TypeVar("T")


def _names(text: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _kept(scenario: Scenario, loc: tuple[str | int, ...], make: Callable[[], T]) -> T:
    """``make()``, its error prefixed with where the kept part is in the file."""
    try:
        return make()
    except SimulationError as exc:
        raise CommandError(f"{where(scenario, loc)}: {exc}") from None


def _kept_axis(scenario: Scenario, loc: tuple[str | int, ...], axis: ExperimentAxis) -> Axis:
    def make() -> Axis:
        made = make_axis(axis.param, axis.values, axis.param)
        for value in made.values:  # each value alone: an impossible one is named here
            apply(scenario, {made.path: value}, axis.param)
        return made

    return _kept(scenario, loc, make)


def axes(scenario: Scenario, args: argparse.Namespace) -> tuple[list[Axis], Axis | None]:
    plan = scenario.experiment
    swept = (
        [parse_axis(spec) for spec in args.sweep] if args.sweep else
        [_kept_axis(scenario, ("experiment", "sweep", i), a) for i, a in enumerate(plan.sweep)]
    )
    if args.compare:
        compared: Axis | None = parse_axis(args.compare, "--compare")
    elif plan.compare is not None:
        compared = _kept_axis(scenario, ("experiment", "compare"), plan.compare)
    else:
        compared = None
    return swept, compared


def _cap(args: argparse.Namespace, kept: PrecisionTarget | SelectBestTarget | None) -> int:
    """``--max-replications``, else the kept procedure's own cap, else the default."""
    if args.max_replications is not None:
        return int(args.max_replications)
    return kept.max_replications if kept is not None else DEFAULT_MAX_REPLICATIONS


def precision(scenario: Scenario, args: argparse.Namespace) -> Precision | None:
    kept = scenario.experiment.precision
    if args.precision is None and kept is None:
        if args.precision_for is not None:
            raise CommandError("--precision-for goes with --precision")
        return None
    if args.precision is not None:
        relative = fraction_argument("--precision", args.precision)
    else:
        assert kept is not None
        relative = kept.relative
    metrics = (_names(args.precision_for) if args.precision_for is not None
               else tuple(kept.metrics) if kept is not None and kept.metrics
               else DEFAULT_METRICS)
    cap = _cap(args, kept)
    return _kept(scenario, ("experiment", "precision"),
                 lambda: Precision(relative, metrics, cap))


def select_best(scenario: Scenario, args: argparse.Namespace) -> SelectBest | None:
    kept = scenario.experiment.select_best
    if args.select_best is None and kept is None:
        if args.indifference is not None:
            raise CommandError("--indifference goes with --select-best")
        return None
    if args.select_best is not None:
        spec = args.select_best
    else:
        assert kept is not None
        spec = f"{kept.metric}:{kept.goal}"
    if args.indifference is not None:
        indifference = fraction_argument("--indifference", args.indifference)
    elif kept is not None:
        indifference = kept.indifference
    else:
        raise CommandError(
            "--select-best needs --indifference DELTA: the smallest difference in the metric "
            "worth telling apart (without one, two values that hardly differ never end)"
        )
    cap = _cap(args, kept)
    return _kept(scenario, ("experiment", "select_best"),
                 lambda: SelectBest.parse(spec, indifference, cap))


def options(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``sim.experiment.Experiment`` beyond the scenario."""
    plan = scenario.experiment
    swept, compared = axes(scenario, args)
    chosen = select_best(scenario, args)
    held = precision(scenario, args)
    if args.max_replications is not None and chosen is None and held is None:
        raise CommandError("--max-replications goes with --precision or --select-best")
    effects = _names(args.effects) if args.effects is not None else tuple(plan.effects)
    return {
        "replications": (scenario.run.replications if args.replications is None
                         else args.replications),
        "seed": args.seed, "axes": swept, "compare": compared, "until": args.until,
        "tracing": args.trace, "precision": held, "select_best": chosen,
        "warmup_check": args.warmup_check or plan.warmup_check, "effects": effects,
    }
