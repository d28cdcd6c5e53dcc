"""An experiment's results: the terminal table, ``summary.json`` and the CSV files.

``summary.json`` holds, per point, every metric's mean, 95% confidence interval and number
of replications, the paired differences of each comparison, and the first invariant
violation with its trace. Its ``timing`` block is the only part that changes from one run
of the same command to the next.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sim.effects import Effect
from sim.experiment import ExperimentResult
from sim.metrics import BY_NAME, METRIC_NAMES
from sim.precision import label as target_label
from sim.stats import Estimate
from sim.warmup import LABELS, WarmupCheck

#: The metrics the terminal shows for one point, in order (summary.json has them all).
DETAIL = (
    "sessions", "conversion", "orders", "orders_paid", "orders_payment_failed",
    "orders_cancelled", "orders_refunded", "orders_pending_payment", "units_received",
    "units_sold", "oversold_units", "refunds", "lost_sales", "lost_units",
    "sessions_turned_away", "sessions_abandoned", "confirmation_p50", "confirmation_p95",
    "confirmation_p99", "webhook_lag_mean", "webhook_lag_p95", "webhook_rejected",
    "webhook_gave_up", "gateway_errors", "gateway_abandoned", "gateway_utilisation",
    "workers_utilisation", "database_utilisation", "workers_wait_mean", "in_shop_mean",
    "little_lambda_w", "violations",
)
#: Up to this many points are shown as columns; more, as rows of ``OVERVIEW`` metrics.
MAX_COLUMNS = 6
#: The metrics the terminal shows side by side when there are several points.
OVERVIEW = (
    "conversion", "orders_paid", "oversold_units", "refunds", "lost_sales",
    "confirmation_p95", "webhook_lag_mean", "gateway_utilisation", "violations",
)


def _num(x: float, unit: str = "") -> str:
    if math.isnan(x):
        return "-"
    if unit == "ratio":
        return f"{100 * x:.2f}%"
    if unit == "s":
        if abs(x) < 1:
            return f"{1000 * x:.3g} ms"
        return f"{x:.3g} s" if abs(x) < 1000 else f"{x:,.0f} s"
    return f"{x:,.1f}" if abs(x) < 1e6 else f"{x:,.0f}"


def _with_ci(est: Estimate, unit: str) -> str:
    if math.isnan(est.half_width):
        return _num(est.mean, unit)
    return f"{_num(est.mean, unit)} ± {_num(est.half_width, unit)}"


def _header(settings: tuple[tuple[str, object], ...]) -> str:
    return "\n".join(f"{name}={value}" for name, value in settings)


def render(result: ExperimentResult, console: Console) -> None:
    name = result.scenario.profile.name
    runs = result.replications
    console.print(
        f"[bold]{name}[/bold]: {len(result.points)} point(s) x {runs} replication(s), "
        f"seed {result.seed}; 95% confidence intervals (Student t over replications)"
    )
    if result.sequential is not None:
        console.print(_sequential_line(result), soft_wrap=True)
    if len(result.points) == 1:
        table = Table("metric", "mean", "95% CI", "n")
        summary = result.summaries[0]
        for metric in DETAIL:
            est, unit = summary[metric], BY_NAME[metric].unit
            interval = (
                "-" if math.isnan(est.half_width)
                else f"[{_num(est.low, unit)}, {_num(est.high, unit)}]"
            )
            table.add_row(BY_NAME[metric].label, _num(est.mean, unit), interval, str(est.n))
        console.print(table)
    elif len(result.points) <= MAX_COLUMNS:
        # Few points: one column each, so the metrics read down and the points across.
        table = Table("metric (mean ± 95% CI)", *(_header(p.settings) for p in result.points))
        for metric in DETAIL:
            unit = BY_NAME[metric].unit
            table.add_row(BY_NAME[metric].label,
                          *(_with_ci(summary[metric], unit) for summary in result.summaries))
        console.print(table)
    else:
        table = Table("point", *(BY_NAME[m].label for m in OVERVIEW))
        for point, summary in zip(result.points, result.summaries, strict=True):
            table.add_row(point.label, *(_with_ci(summary[m], BY_NAME[m].unit) for m in OVERVIEW))
        console.print(table)
    if result.comparisons:
        compare = result.compare
        assert compare is not None
        baseline = f"{compare.name}={compare.values[0]}"
        table = Table(
            "metric (difference ± 95% CI)",
            *(f"{_header(result.points[c.point].settings)}\nminus {baseline}"
              for c in result.comparisons),
            title=f"paired differences against {baseline} (common random numbers)",
        )
        for metric in OVERVIEW:
            unit = BY_NAME[metric].unit
            table.add_row(BY_NAME[metric].label,
                          *(_with_ci(c.differences[metric], unit) for c in result.comparisons))
        console.print(table)
    for line in _selection_lines(result):
        console.print(line, soft_wrap=True)
    for metric, found in result.effects.items():
        console.print(_effects_table(result, metric, found))
    for check in result.warmup_checks:
        console.print(_warmup_line(result, check), soft_wrap=True)
    first = result.first_violation
    if first is None:
        console.print("no invariant violations")
    else:
        v = first.violation
        console.print(
            f"[bold red]{result.violations} invariant violation(s)[/bold red]; first: "
            f"{v.invariant} {v.subject} at {v.at:.3f}s ({result.points[first.point].label}, "
            f"replication {first.replication}): {v.detail}"
        )
        for event in first.trace:
            console.print(
                f"  {event.at:10.3f}  {event.source} -> {event.target}: {event.message} "
                f"({event.kind})"
            )


def _sequential_line(result: ExperimentResult) -> str:
    sequential = result.sequential
    assert sequential is not None
    precision = sequential.precision
    asked = (f"{100 * precision.relative:g}% relative precision of "
             f"{', '.join(target_label(m) for m in precision.metrics)}")
    rounds = " -> ".join(str(n) for n in sequential.rounds)
    if sequential.met:
        return f"sequential replications: {asked} reached after {rounds} replications"
    worst = max(sequential.shortfalls, key=lambda s: s.relative_half_width)
    width = worst.relative_half_width
    shown = "no interval" if math.isinf(width) else f"± {100 * width:.1f}% of its mean"
    return (
        f"[bold yellow]sequential replications: {asked} NOT reached[/bold yellow] after "
        f"{rounds} replications (--max-replications {precision.max_replications}); "
        f"{len(sequential.shortfalls)} interval(s) too wide, the widest "
        f"{target_label(worst.metric)} at {result.points[worst.point].label}: {shown}"
    )


def _selection_lines(result: ExperimentResult) -> list[str]:
    selection = result.selection
    if selection is None:
        return []
    spec = selection.spec
    metric = BY_NAME[spec.metric]
    compare = result.compare
    assert compare is not None
    rounds = " -> ".join(str(n) for n in selection.rounds)
    lines = [
        f"best {metric.label} ({spec.goal}) among the values of {compare.name}: 95% "
        f"confidence that the value chosen is the best or within "
        f"{_num(spec.indifference, metric.unit)} of it (Kim and Nelson's KN), after {rounds} "
        f"replications"
    ]
    for group in selection.groups:
        where = ", ".join(
            f"{name}={value}" for name, value in result.points[group.points[0]].settings[:-1])
        prefix = f"  at {where}: " if where else "  "

        def value(point: int) -> str:
            return f"{compare.name}={result.points[point].settings[-1][1]}"

        def mean(point: int) -> str:
            return _num(result.summaries[point][spec.metric].mean, metric.unit)

        out = "; ".join(f"{value(e.point)} ({mean(e.point)}) eliminated after {e.replication}"
                        for e in group.eliminated)
        out = f"; {out}" if out else ""
        if group.chosen is None:
            lines.append(
                f"{prefix}[bold yellow]NOT DECIDED[/bold yellow] within --max-replications "
                f"{spec.max_replications}: still in "
                f"{', '.join(f'{value(p)} ({mean(p)})' for p in group.survivors)}{out} "
                f"(KN would stop by {group.bound})")
            continue
        tied = (f", tied with {', '.join(value(p) for p in group.tied)} (the same mean)"
                if group.tied else "")
        lines.append(f"{prefix}[bold]{value(group.chosen)}[/bold] ({mean(group.chosen)}), "
                     f"decided after {group.decided_at} replications{tied}{out}")
    return lines


def _effects_table(result: ExperimentResult, metric: str, found: list[Effect]) -> Table:
    unit = BY_NAME[metric].unit
    table = Table("effect", "mean ± 95% CI", "",
                  title=f"effects on {BY_NAME[metric].label} (2^{len(result.all_axes)} "
                        f"factorial design, {result.replications} replications)")
    for effect in found:
        table.add_row(effect.label, _with_ci(effect.estimate, unit),
                      "[bold]not zero[/bold]" if effect.significant else "")
    return table


def _effects_json(result: ExperimentResult) -> dict[str, Any] | None:
    if not result.effects:
        return None
    return {
        metric: [
            {"factors": [f.name for f in e.factors],
             "from": [f.first for f in e.factors], "to": [f.second for f in e.factors],
             "kind": "main" if len(e.factors) == 1 else "interaction",
             "significant": e.significant, **e.estimate.to_json()}
            for e in found
        ]
        for metric, found in result.effects.items()
    }


def _selection_json(result: ExperimentResult) -> dict[str, Any] | None:
    selection = result.selection
    if selection is None:
        return None
    spec = selection.spec
    return {
        "metric": spec.metric,
        "goal": spec.goal,
        "indifference": spec.indifference,
        "confidence": spec.confidence,
        "procedure": "KN (Kim and Nelson 2001)",
        "max_replications": spec.max_replications,
        "rounds": list(selection.rounds),
        "decided": selection.decided,
        "groups": [
            {
                "points": list(group.points),
                "chosen": group.chosen,
                "chosen_settings": (None if group.chosen is None
                                    else dict(result.points[group.chosen].settings)),
                "decided_at": group.decided_at,
                "tied": list(group.tied),
                "survivors": list(group.survivors),
                "eliminated": [
                    {"point": e.point, "replication": e.replication, "by": e.by}
                    for e in group.eliminated
                ],
            }
            for group in selection.groups
        ],
    }


def _seconds(value: float) -> str:
    return f"{value:,.0f} s"


def _warmup_line(result: ExperimentResult, check: WarmupCheck) -> str:
    where = f" at {result.points[check.point].label}" if len(result.points) > 1 else ""
    cuts = "; ".join(
        f"{LABELS[s.name]} "
        + ("did not settle" if s.cut is None else f"settle after {_seconds(s.cut)}")
        for s in check.series
    )
    head = (f"warm-up check{where} (MSER-5 over {check.replications} replications, "
            f"{_seconds(check.step)} intervals): {cuts}; run.warmup is "
            f"{_seconds(check.configured)}")
    suggested = check.suggested
    if suggested is None:
        return (f"[bold yellow]{head}: NOT SETTLED[/bold yellow] in the first half of the "
                f"run (a level that still moves: stock running out, a fault or burst mid-run, "
                f"no steady state, or too short a run.duration or too few replications to "
                f"tell; see warmup_check.png)")
    if check.enough:
        return f"{head}: enough"
    return (f"[bold yellow]{head}: TOO SHORT[/bold yellow], raise it to at least "
            f"{_seconds(suggested)} (--sweep warmup=... to see what it changes)")


def _warmup_json(result: ExperimentResult) -> list[dict[str, Any]]:
    return [
        {
            "point": check.point,
            "settings": dict(result.points[check.point].settings),
            "configured": check.configured,
            "suggested": check.suggested,
            "enough": check.enough,
            "settled": check.settled,
            "interval": check.step,
            "replications": check.replications,
            "series": {s.name: {"cut": s.cut, "mean": s.mean} for s in check.series},
        }
        for check in result.warmup_checks
    ]


def _precision_json(result: ExperimentResult) -> dict[str, Any] | None:
    sequential = result.sequential
    if sequential is None:
        return None
    precision = sequential.precision
    return {
        "relative": precision.relative,
        "half_width_at_most": precision.adjusted,  # of |mean|: Law and Kelton's gamma/(1+gamma)
        "metrics": list(precision.metrics),
        "max_replications": precision.max_replications,
        "rounds": list(sequential.rounds),
        "met": sequential.met,
        "shortfalls": [
            {
                "point": s.point,
                "settings": dict(result.points[s.point].settings),
                "metric": s.metric,
                "relative_half_width": (
                    None if math.isinf(s.relative_half_width) else s.relative_half_width
                ),
                "replications_needed": s.needed,
            }
            for s in sequential.shortfalls
        ],
    }


def summary_json(result: ExperimentResult) -> dict[str, Any]:
    scenario = result.scenario
    first = result.first_violation
    return {
        "scenario": {
            "name": scenario.profile.name,
            "file": str(scenario.source) if scenario.source else None,
            "seed": result.seed,
            "replications": result.replications,
        },
        "precision": _precision_json(result),
        "selection": _selection_json(result),
        "effects": _effects_json(result),
        "warmup_check": _warmup_json(result) if result.warmup_checks else None,
        "axes": [{"name": a.name, "path": a.path, "values": list(a.values)} for a in result.axes],
        "compare": (
            {"name": result.compare.name, "path": result.compare.path,
             "values": list(result.compare.values)}
            if result.compare else None
        ),
        "points": [
            {
                "index": p.index,
                "settings": dict(p.settings),
                "metrics": {m: result.summaries[p.index][m].to_json() for m in METRIC_NAMES},
            }
            for p in result.points
        ],
        "comparisons": [
            {
                "point": c.point,
                "baseline": c.baseline,
                "settings": dict(result.points[c.point].settings),
                "baseline_settings": dict(result.points[c.baseline].settings),
                "differences": {m: c.differences[m].to_json() for m in METRIC_NAMES},
            }
            for c in result.comparisons
        ],
        "violations": result.violations,
        "first_violation": (
            {
                "point": first.point,
                "replication": first.replication,
                **first.violation.to_json(),
                "trace": [e.to_json() for e in first.trace],
            }
            if first else None
        ),
        "timing": {
            "cpu_seconds": result.cpu_seconds,
            "events": sum(run.events for runs in result.runs for run in runs),
        },
    }


def write_outputs(result: ExperimentResult, out: Path) -> list[Path]:
    """summary.json, summary.csv, replications.csv and (with --compare) comparisons.csv."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "summary.json"
    path.write_text(json.dumps(summary_json(result), indent=2, default=str) + "\n")
    written.append(path)

    axes = [name for name, _ in result.points[0].settings]
    path = out / "summary.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["point", *axes, "metric", "mean", "ci_low", "ci_high", "half_width", "n"])
        for p in result.points:
            for metric in METRIC_NAMES:
                est = result.summaries[p.index][metric]
                writer.writerow([p.index, *(v for _, v in p.settings), metric, est.mean, est.low,
                                 est.high, est.half_width, est.n])
    written.append(path)

    path = out / "replications.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["point", *axes, "replication", *METRIC_NAMES, "cpu_seconds"])
        for p in result.points:
            for run in result.runs[p.index]:
                writer.writerow([p.index, *(v for _, v in p.settings), run.replication,
                                 *(run.metrics.get(m, math.nan) for m in METRIC_NAMES),
                                 run.cpu_seconds])
    written.append(path)

    if result.comparisons:
        path = out / "comparisons.csv"
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["point", "baseline", *axes, "metric", "difference", "ci_low",
                             "ci_high", "half_width", "n"])
            for c in result.comparisons:
                settings = [v for _, v in result.points[c.point].settings]
                for metric in METRIC_NAMES:
                    est = c.differences[metric]
                    writer.writerow([c.point, c.baseline, *settings, metric, est.mean, est.low,
                                     est.high, est.half_width, est.n])
        written.append(path)
    return written
