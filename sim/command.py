"""``purchaseflow sim``: simulate a scenario in virtual time (DESIGN.md section 9).

    purchaseflow sim scenarios/library/flash_sale_reserve.yaml --replications 30 \\
        --sweep rate=0.5,1,2 --compare stock_commit=at_order,on_payment,reserve \\
        --workers 2 --out results/flash

Exit codes: 0 the runs held every invariant; 1 an invariant was violated (the first one is
printed with its trace); 2 a bad scenario, parameter or option (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from reference_impl.cli import CommandError
from scenarios import ScenarioError, load_scenario
from sim.command_plan import options
from sim.errors import SimulationError
from sim.experiment import Experiment, ExperimentResult, default_workers, run_experiment
from sim.model import RunResult
from sim.precision import DEFAULT_MAX_REPLICATIONS, DEFAULT_METRICS

EXIT_VIOLATIONS = 1
#: Columns of the table when the output is not a terminal.
WIDE = 160


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="simulate a scenario in virtual time (replications, sweeps, comparisons)",
        description=(
            "Simulate a scenario with SimPy, the domain core deciding every outcome. "
            "Reports every metric with a 95% confidence interval over independent "
            "replications (docs/simulator.md)."
        ),
    )
    parser.add_argument("scenario", metavar="SCENARIO", help="a scenario file (YAML)")
    parser.add_argument("--replications", type=int, metavar="N",
                        help="independent replications per point (default: run.replications)")
    parser.add_argument("--seed", type=int, metavar="S", help="base seed (default: run.seed)")
    parser.add_argument("--sweep", action="append", default=[], metavar="PARAM=V1,V2,...",
                        help="run every value of a scenario field (dotted path or short name "
                             "such as rate, stock_commit, reservation_ttl); repeatable")
    parser.add_argument("--compare", metavar="PARAM=V1,V2,...",
                        help="compare values of a field with common random numbers: paired "
                             "differences against the first value")
    parser.add_argument("--precision", metavar="REL",
                        help="run replications until every --precision-for metric's 95%% "
                             "interval is within REL of its mean (0.05 or 5%%), at every "
                             "point; --replications is then the pilot (docs/simulator.md)")
    parser.add_argument("--precision-for", metavar="METRIC,...",
                        help="the metrics --precision holds (default: "
                             f"{','.join(DEFAULT_METRICS)})")
    parser.add_argument("--select-best", metavar="METRIC:min|max",
                        help="run replications until the best --compare value for METRIC is "
                             "known with 95%% confidence (Kim and Nelson's KN); "
                             "--replications is then the pilot (docs/simulator.md)")
    parser.add_argument("--indifference", metavar="DELTA",
                        help="with --select-best: the smallest difference in METRIC worth "
                             "telling apart, in its own units (5 buyers, 0.01 of conversion "
                             "or 1%%)")
    parser.add_argument("--max-replications", type=int, metavar="N",
                        help="with --precision or --select-best: replications per point at "
                             f"most (default: {DEFAULT_MAX_REPLICATIONS})")
    parser.add_argument("--effects", metavar="METRIC,...",
                        help="main effects and two-setting interactions on these metrics, "
                             "with 95%% intervals: every --sweep and --compare with two "
                             "values (a 2^k factorial design; docs/simulator.md)")
    parser.add_argument("--warmup-check", action="store_true",
                        help="check run.warmup: MSER-5 on buyers in the shop and units held "
                             "by reservations over time, averaged over the replications "
                             "(and warmup_check.png with --out)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"local processes (default: up to {default_workers()})")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster at ADDRESS (tcp://host:8786)")
    parser.add_argument("--until", type=float, metavar="T",
                        help="stop each run at virtual time T (default: when all is settled)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="write summary.json, CSV files and PNG plots into DIR")
    parser.add_argument("--trace", action="store_true",
                        help="record the actor-to-actor trace and write DIR/trace.jsonl")
    parser.add_argument("--no-plots", action="store_true", help="write no PNG files")
    parser.add_argument("--json", action="store_true", help="print summary.json to stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.trace and args.out is None:
        raise CommandError("--trace needs --out DIR to write the trace into")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        more = len(exc.problems) - 1
        raise CommandError(str(exc.problems[0]) + (f" (and {more} more)" if more else "")) from None
    try:
        experiment = Experiment(scenario, **options(scenario, args))
        total = len(experiment.points()) * experiment.replications
        workers = min(default_workers(), total) if args.workers is None else args.workers
        console = Console(stderr=True)
        with _progress(console, total, quiet=args.quiet or args.json) as advance:
            result = run_experiment(
                experiment, workers=workers, scheduler=args.scheduler, progress=advance,
                planned=advance.plan,
            )
    except SimulationError as exc:
        raise CommandError(str(exc)) from None
    _output(result, args)
    return EXIT_VIOLATIONS if result.violations else 0


@contextmanager
def _progress(console: Console, total: int, quiet: bool) -> Iterator[_Advance]:
    if quiet or total < 2 or not console.is_terminal:
        yield _Advance(None)
        return
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console, transient=True,
    )
    with progress:
        task = progress.add_task("simulating", total=total)
        yield _Advance(lambda: progress.advance(task),
                       lambda runs: progress.update(task, total=runs))


class _Advance:
    def __init__(self, step: object, plan: object = None) -> None:
        self._step = step
        self._plan = plan

    def __call__(self, _: RunResult) -> None:
        if callable(self._step):
            self._step()

    def plan(self, total: int) -> None:
        """A sequential experiment's next round: the bar's new total."""
        if callable(self._plan):
            self._plan(total)


def _output(result: ExperimentResult, args: argparse.Namespace) -> None:
    from sim.report import render, summary_json, write_outputs

    if args.json:
        sys.stdout.write(json.dumps(summary_json(result), indent=2, default=str) + "\n")
    else:
        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(highlight=False, width=WIDE)  # a file or a pipe: no wrapping
        render(result, console)
    if args.out is None:
        return
    written = write_outputs(result, args.out)
    if args.trace:
        written.append(_write_trace(result, args.out))
    if not args.no_plots:
        from sim.plots import write_plots

        written += write_plots(result, args.out)
    if not args.json:
        print(f"wrote {', '.join(str(p) for p in written)}")


def _write_trace(result: ExperimentResult, out: Path) -> Path:
    path = out / "trace.jsonl"
    with path.open("w") as f:
        for runs in result.runs:
            for run in runs:
                for event in run.trace or []:
                    record = {"point": run.point, "replication": run.replication,
                              **event.to_json()}
                    f.write(json.dumps(record) + "\n")
    return path
