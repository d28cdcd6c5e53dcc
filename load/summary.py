"""The end of a run, for a person (rich tables) and for a machine (``summary.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from load.after_run import AUDITED, DESCRIPTIONS, AuditReport
from load.diff import Diff
from load.metrics import SESSION_ENDS, RunMetrics
from load.report import RunStats, StepStats, ThresholdResult

#: Above this share of a core per process, the generator itself may limit the load.
BUSY_GENERATOR = 0.8
FINDINGS_SHOWN = 10


@dataclass
class Outcome:
    """Everything a run produced, and its verdict."""

    title: str
    stats: RunStats | None
    metrics: RunMetrics
    thresholds: list[ThresholdResult]
    audit: AuditReport | None
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # the generator's own troubles
    #: ``--lose-answers``: the share of keyed answers the link was to drop, and how many
    #: it dropped; None without the link.
    lossy_link: dict[str, float] | None = None
    #: ``--baseline``: this run compared with an earlier one (``load.diff``).
    baseline: Diff | None = None

    @property
    def thresholds_ok(self) -> bool:
        return all(r.ok for r in self.thresholds)

    @property
    def exit_code(self) -> int:
        """3 invariant broken, 4 the generator failed, 1 threshold broken, 5 a regression
        against ``--baseline``, else 0."""
        if self.audit is not None and not self.audit.ok:
            return 3
        if self.problems:
            return 4
        if not self.thresholds_ok:
            return 1
        return 5 if self.baseline is not None and self.baseline.exit_code else 0

    def verdict(self) -> str:
        reasons = []
        if self.audit is not None and not self.audit.ok:
            broken = sorted({f.invariant for f in self.audit.findings})
            reasons.append(f"invariants broken: {', '.join(broken)}")
        reasons += self.problems
        broken_thresholds = [r.threshold.text for r in self.thresholds if not r.ok]
        if broken_thresholds:
            reasons.append(f"thresholds broken: {', '.join(broken_thresholds)}")
        if self.baseline is not None and self.baseline.exit_code:
            reasons.append(f"against the baseline, {self.baseline.verdict()}")
        return "PASSED" if not reasons else "FAILED: " + "; ".join(reasons)

    def to_json(self) -> dict[str, Any]:
        steps = {}
        if self.stats is not None:
            for name, step in [*self.stats.steps.items(), ("all", self.stats.total)]:
                steps[name] = _step_json(step, self.stats)
        return {
            "title": self.title,
            "verdict": self.verdict(),
            "exit_code": self.exit_code,
            "duration_seconds": round(self.stats.duration, 3) if self.stats else None,
            "steps": steps,
            "metrics": self.metrics.to_json(),
            "thresholds": [{"threshold": r.threshold.text, "value": r.value, "ok": r.ok}
                           for r in self.thresholds],
            "audit": self.audit.to_json() if self.audit else None,
            "failures": [{"name": n, "error": e, "occurrences": c} for n, e, c in self.failures],
            "reports": self.reports,
            "problems": self.problems,
            "lossy_link": self.lossy_link,
            "baseline": self.baseline.to_json() if self.baseline is not None else None,
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")


def _step_json(step: StepStats, stats: RunStats) -> dict[str, Any]:
    return {"requests": step.requests, "refused": dict(step.refusals), "failed": step.failures,
            "rps": round(stats.rps(step), 3), "avg_ms": round(step.avg_ms, 1),
            "p50_ms": step.percentile(0.5), "p95_ms": step.percentile(0.95),
            "p99_ms": step.percentile(0.99), "max_ms": step.max_ms}


def _ms(value: float) -> str:
    return f"{value:.0f}"


def print_summary(outcome: Outcome, console: Console) -> None:
    console.rule(f"[bold]{outcome.title}")
    if outcome.stats is not None and outcome.stats.total.requests:
        _print_requests(outcome.stats, console)
    else:
        console.print("[yellow]no requests were recorded[/]")
    _print_sessions(outcome.metrics, console)
    duration = outcome.stats.duration if outcome.stats else 0.0
    busy = generator_busy(outcome.metrics, duration)
    if busy > BUSY_GENERATOR:
        console.print(f"[yellow]the generator used {busy:.0%} of a core per process: it may "
                      "be what limits the load (add --processes or workers)[/]")
    for name, error, occurrences in outcome.failures:
        console.print(f"[red]failure[/] {name}: {error} (x{occurrences})", markup=True,
                      highlight=False)
    if outcome.thresholds:
        table = Table(title="thresholds", title_justify="left")
        for column in ("threshold", "measured", "verdict"):
            table.add_column(column)
        for r in outcome.thresholds:
            table.add_row(r.threshold.text, r.shown_value(),
                          "[green]met[/]" if r.ok else "[red]BROKEN[/]")
        console.print(table)
    if outcome.audit is not None:
        _print_audit(outcome.audit, console)
    if outcome.baseline is not None:
        from load.diff_command import render

        render(outcome.baseline, console, "this run against the baseline "
                                          f"{outcome.baseline.baseline.path}")
    for kind, path in outcome.reports.items():
        console.print(f"{kind}: {path}", highlight=False)
    style = "green" if outcome.exit_code == 0 else "red"
    console.print(f"[bold {style}]{outcome.verdict()}[/]", highlight=False)


def _print_requests(stats: RunStats, console: Console) -> None:
    table = Table(title=f"requests ({stats.duration:.1f} s)", title_justify="left")
    for column in ("step", "requests", "refused", "failed", "req/s", "avg ms", "p50",
                   "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "step" else "right")
    rows = [*stats.steps.values(), stats.total]
    for step in rows:
        failed = f"[red]{step.failures}[/]" if step.failures else "0"
        table.add_row(step.name, str(step.requests), str(step.refused), failed,
                      f"{stats.rps(step):.1f}", _ms(step.avg_ms), _ms(step.percentile(0.5)),
                      _ms(step.percentile(0.95)), _ms(step.percentile(0.99)),
                      _ms(step.max_ms), end_section=step is rows[-2])
    console.print(table)
    for step in stats.steps.values():
        if step.refusals:
            refusals = ", ".join(f"{code} {n}" for code, n in step.refusals.most_common())
            console.print(f"  {step.name} refused as the flow documents: {refusals}",
                          highlight=False)


def _print_sessions(metrics: RunMetrics, console: Console) -> None:
    for kind, ends in sorted(metrics.sessions.items()):
        parts = [f"{end} {ends[end]}" for end in SESSION_ENDS if ends.get(end)]
        console.print(f"{kind} sessions: {sum(ends.values())} ({', '.join(parts)})",
                      highlight=False)
    if metrics.scheduled:
        style = "yellow" if metrics.dropped else "green"
        console.print(
            f"open workload: {metrics.scheduled} arrivals scheduled, {metrics.started} started, "
            f"[{style}]{metrics.dropped} dropped ({metrics.dropped_ratio:.1%})[/]; start lag "
            f"p50 {metrics.lag_percentile(0.5)} ms, p95 {metrics.lag_percentile(0.95)} ms, "
            f"max {max(metrics.lag_ms, default=0)} ms", highlight=False)
    if metrics.retries["sent"]:
        retries = metrics.retries
        style = "yellow" if retries["ran_out"] else "green"
        console.print(
            f"checkouts retried (same Idempotency-Key): {retries['sent']} retries sent, "
            f"{retries['recovered']} checkouts recovered, [{style}]{retries['ran_out']} ran "
            "out of tries[/]", highlight=False)
    if metrics.processes:
        console.print(f"generator: {metrics.cpu_seconds:.1f} CPU-s in {metrics.processes} "
                      "Locust process(es)", highlight=False)
    if metrics.user_errors:
        console.print(f"[red]{metrics.user_errors} exceptions in the users' code "
                      "(see locust.log)[/]")


def _print_audit(audit: AuditReport, console: Console) -> None:
    table = Table(title=f"invariant audit (after {audit.waited:.1f} s settling)",
                  title_justify="left")
    for column in ("invariant", "what", "verdict"):
        table.add_column(column)
    broken: dict[str, int] = {}
    for finding in audit.findings:
        broken[finding.invariant] = broken.get(finding.invariant, 0) + 1
    for inv in AUDITED:
        if inv in audit.skipped:
            verdict = f"[dim]skipped: {audit.skipped[inv]}[/]"
        else:
            verdict = f"[red]BROKEN ({broken[inv]})[/]" if inv in broken else "[green]holds[/]"
        table.add_row(inv, DESCRIPTIONS[inv], verdict)
    console.print(table)
    statuses = ", ".join(f"{s} {n}" for s, n in audit.statuses.most_common())
    console.print(f"orders: {sum(audit.statuses.values())} ({statuses or 'none'}); "
                  f"confirmation emails: {audit.emails}", highlight=False)
    for finding in audit.findings[:FINDINGS_SHOWN]:
        console.print(f"[red]{finding}[/]", highlight=False)
    if len(audit.findings) > FINDINGS_SHOWN:
        console.print(f"... and {len(audit.findings) - FINDINGS_SHOWN} more (summary.json)")
    for note in audit.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def generator_busy(metrics: RunMetrics, duration: float) -> float:
    """The share of a core each Locust process used on average."""
    if not metrics.processes or duration <= 0:
        return 0.0
    return metrics.cpu_seconds / metrics.processes / duration
