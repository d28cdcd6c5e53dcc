"""``purchaseflow load-diff BASELINE CANDIDATE``: compare two load runs' output folders.

    purchaseflow load-diff runs/monday runs/tuesday --tolerance 10% --percentiles 50,95,99

Exit codes: 0 no regression; 1 a regression (slower, less throughput, more failures, or an
invariant broken only by the candidate); 2 a folder that is not a run's, or a bad option.
The method is in ``load.diff``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from reference_impl.cli import CommandError, fraction_argument

if TYPE_CHECKING:
    from load.diff import Change, Diff

STYLE = {"slower": "bold red", "fewer": "bold red", "faster": "green", "same": "",
         "unclear": "yellow"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "load-diff", help="compare two load runs: slower, less throughput, more failures?",
        description=(__doc__ or "").splitlines()[0],
        epilog="The method: docs/load.md#comparing-two-runs.")
    parser.add_argument("baseline", type=Path, metavar="BASELINE",
                        help="the --out folder of the reference run")
    parser.add_argument("candidate", type=Path, metavar="CANDIDATE",
                        help="the --out folder of the run to judge")
    parser.add_argument("--tolerance", default="10%", metavar="REL",
                        help="changes smaller than this share of the baseline are not "
                             "regressions (default 10%%)")
    parser.add_argument("--floor", type=float, default=0.0, metavar="MS",
                        help="response-time changes under MS milliseconds are not "
                             "regressions, however large relatively (default 0)")
    parser.add_argument("--percentiles", default="50,95,99", metavar="P,...",
                        help="response-time percentiles to compare (default 50,95,99)")
    parser.add_argument("--skip", type=float, default=0.0, metavar="S",
                        help="leave out the first S seconds of each run (the ramp-up)")
    parser.add_argument("--steps", metavar="STEP,...",
                        help="only these steps (default: every step both runs have)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from load.diff import DiffError, Run, diff

    try:
        percentiles = [float(p) / 100 for p in args.percentiles.split(",") if p.strip()]
    except ValueError:
        raise CommandError(f"--percentiles expects numbers such as 50,95,99, not "
                           f"{args.percentiles!r}") from None
    steps = [s.strip() for s in args.steps.split(",") if s.strip()] if args.steps else None
    tolerance = fraction_argument("--tolerance", args.tolerance)
    try:
        result = diff(Run.read(args.baseline), Run.read(args.candidate),
                      percentiles=percentiles, tolerance=tolerance, skip=args.skip,
                      steps=steps, floor_ms=args.floor)
    except DiffError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
        return result.exit_code
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)
    render(result, console, f"{args.candidate} against {args.baseline}")
    return result.exit_code


def render(result: Diff, console: Console, title: str) -> None:
    """The comparison's table, its notes and its verdict."""
    table = Table("step", "figure", "baseline", "candidate", "change (95% CI)", "verdict",
                  title=f"{title} (tolerance ±{100 * result.tolerance:g}%)")
    for change in result.changes:
        table.add_row(change.step, change.metric, _value(change.metric, change.baseline),
                      _value(change.metric, change.candidate), _interval(change),
                      f"[{STYLE.get(change.verdict, '')}]{change.verdict}[/]"
                      if STYLE.get(change.verdict) else change.verdict)
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}")
    if result.broken:
        console.print(f"[bold red]invariants broken only by the candidate: "
                      f"{', '.join(result.broken)}[/bold red]")
    console.print(result.verdict())


def _value(metric: str, value: float) -> str:
    if math.isnan(value):
        return "-"
    if metric == "failures":
        return f"{100 * value:.2f}%"
    if metric == "rps":
        return f"{value:.1f}/s"
    return f"{value:.0f} ms"


def _interval(change: Change) -> str:
    low, high = change.low, change.high
    if math.isnan(low):
        return "-"
    if change.metric == "failures":
        return f"{100 * low:+.2f} to {100 * high:+.2f} points"
    return f"{100 * low:+.1f}% to {100 * high:+.1f}%"
