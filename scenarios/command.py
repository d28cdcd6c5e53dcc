"""``purchaseflow scenario``: validate, show and describe scenario files.

    purchaseflow scenario validate FILE...   "ok FILE", or one "FILE:LINE: field: problem" each
    purchaseflow scenario show FILE          a summary, and the seed diagram as Mermaid
    purchaseflow scenario schema             the JSON Schema of the format
    purchaseflow scenario fit SOURCE         which distribution fits measured durations

Exit codes: 0 all valid; 1 a file is not a valid scenario; 2 a file cannot be read or is not
YAML (and usage errors).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scenarios.errors import ScenarioError, ScenarioFileError
from scenarios.loader import load_scenario
from scenarios.schema import Scenario

EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scenario",
        help="validate and show scenario files",
        description="Validate and show scenario files (docs/scenarios.md).",
    )
    actions = parser.add_subparsers(dest="scenario_action", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="check scenario files")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=_validate)
    show = actions.add_parser("show", help="summarise one scenario and draw its diagram")
    show.add_argument("file", metavar="FILE")
    show.set_defaults(handler=_show)
    schema = actions.add_parser("schema", help="print the format's JSON Schema")
    schema.set_defaults(handler=_schema)
    fit = actions.add_parser(
        "fit", help="fit the format's distributions to measured durations",
        description="Fit exponential, log-normal, normal and uniform distributions to "
                    "measured durations by maximum likelihood, rank them by AIC, and print "
                    "the best in the scenario's syntax, in seconds (docs/scenarios.md).")
    fit.add_argument("source", type=Path, metavar="SOURCE",
                     help="a file of one number a line, a CSV file (--column), or a load "
                          "run's --out folder (--step)")
    fit.add_argument("--step", help="with a load run's folder: the request step "
                                    "(create_order, list_products...)")
    fit.add_argument("--column", help="with a CSV file: the column of durations")
    fit.add_argument("--unit", choices=["s", "ms"], default="s",
                     help="the file's unit (default s; a load run's is ms)")
    fit.add_argument("--json", action="store_true", help="print the fits as JSON")
    fit.set_defaults(handler=_fit)


def _validate(args: argparse.Namespace) -> int:
    worst = 0
    for file in args.files:
        try:
            load_scenario(file)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem)
            worst = max(worst, _exit_code(exc))
        else:
            print(f"ok {file}")
    return worst


def _show(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.file)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return _exit_code(exc)
    from rich.console import Console

    console = Console(highlight=False)
    for renderable in _summary(scenario):
        console.print(renderable)
    _print_diagram(scenario, console)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from scenarios.jsonschema_export import render_json_schema

    sys.stdout.write(render_json_schema())
    return 0


def _fit(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from reference_impl.cli import CommandError
    from scenarios.fitting import FitError, describe, fit_all, read_samples

    try:
        samples = read_samples(args.source, step=args.step, column=args.column, unit=args.unit)
        fits = fit_all(samples)
    except FitError as exc:
        raise CommandError(str(exc)) from None
    report = describe(samples, fits)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=140)  # a file or a pipe: no wrapping
    observed = report["observed"]
    table = Table("distribution (seconds)", "AIC", "KS distance", *observed,
                  title=f"{samples.source}: {samples.n:,.0f} values, best fit first")
    table.columns[0].no_wrap = True
    table.add_row("observed", "", "", *(_ms(value) for value in observed.values()),
                  end_section=True)
    for fit, row in zip(fits, report["fits"], strict=True):
        table.add_row(fit.yaml(), f"{fit.aic:,.1f}", f"{fit.ks:.3f}",
                      *(_ms(value) for value in row["fitted"].values()))
    console.print(table)
    for note in samples.notes:
        console.print(f"note: {note}")
    console.print(f"best: {fits[0].yaml()}")
    return 0


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _exit_code(exc: ScenarioError) -> int:
    return EXIT_UNREADABLE if isinstance(exc, ScenarioFileError) else EXIT_INVALID


# --------------------------------------------------------------------------------------
# show


def _summary(s: Scenario) -> list[Any]:
    from rich.table import Table

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold")
        for column in columns:
            t.add_column(column)
        return t

    p = s.profile
    policies = s.policies()
    profile = table(f"profile {p.name}", "setting", "value")
    if p.seed:
        profile.add_row("seed", f"{p.seed} {p.title or ''}".strip())
    if s.description:
        profile.add_row("description", s.description)
    for name in (
        "stock_commit",
        "payment_mode",
        "webhook_dialect",
        "reservation_ttl",
        "clear_cart_on_payment",
        "send_confirmation_email",
        "check_account",
        "currency",
    ):
        profile.add_row(name, _text(getattr(policies, name)))
    profile.add_row("requires_auth", _text(p.requires_auth))
    exposed = [k for k, v in p.exposes.model_dump().items() if v is True]
    if p.exposes.checkout_link == "fetched_later":
        exposed.append("checkout link fetched later")
    profile.add_row("exposes", ", ".join(exposed) or "checkout only")
    if p.status_vocabulary:
        words = ", ".join(f"{w} = {c}" for w, c in p.status_vocabulary.items())
        profile.add_row("statuses", words)
    profile.add_row("invariants", " ".join(s.invariants_to_check()))
    profile.add_row("refunds expected", _text(s.refunds_expected()))

    catalog = table("catalog and stock", "variant", "product", "price", "stock by location")
    for product, variant in s.catalog.variants():
        stock = ", ".join(
            f"{e.location} {e.quantity}" for e in s.catalog.stock if e.variant == variant.id
        )
        price = _money(variant.price, variant.currency or p.policies.currency)
        label = variant.id if variant.deliverable else f"{variant.id} (not deliverable)"
        catalog.add_row(label, product.name, price, stock or "none")

    b = s.buyers
    buyers = table("buyers", "setting", "value")
    buyers.add_row("population", str(b.population))
    buyers.add_row("arrivals", f"Poisson {b.arrivals.rate:g}/s")
    for burst in b.arrivals.bursts:
        buyers.add_row("burst", f"{burst.buyers} buyers at {burst.at:g} s over {burst.over:g} s")
    buyers.add_row("funnel", " > ".join(f"{k} {v:g}" for k, v in b.funnel.steps()))
    if b.abandonment.patience is not None:
        patience = _dist(b.abandonment.patience)
        buyers.add_row("abandonment", f"{b.abandonment.probability:g} after patience {patience}")
    lines, quantity = b.lines, b.quantity
    buyers.add_row(
        "lines x quantity", f"{lines.min}-{lines.max} x {quantity.min}-{quantity.max}"
    )
    mix = b.mixes[b.mix]
    buyers.add_row("mix", f"{b.mix}: browse {mix.browse:g} / order {mix.order:g}")

    timing = table("latency and capacity", "actor", "value")
    for actor, dist in s.latency:
        if dist is not None:
            timing.add_row(actor, _dist(dist))
    for name, limit in s.capacity:
        timing.add_row(name, "unlimited" if limit is None else str(limit))

    faults = table("faults", "fault", "value")
    g = s.faults.gateway
    for name in ("decline_rate", "create_error_rate", "create_timeout_rate"):
        faults.add_row(f"gateway {name}", f"{getattr(g, name):g}")
    for window in g.outages:
        faults.add_row("gateway outage", f"{window.start:g} s to {window.end:g} s")
    if s.faults.webhook is not None:
        for name, value in s.faults.webhook:
            if name == "delay":
                faults.add_row("webhook delay", "none" if value is None else _dist(value))
            elif name != "retry":
                faults.add_row(f"webhook {name}", f"{value:g}")

    r = s.run
    run = table("run", "setting", "value")
    run.add_row("duration", f"{r.duration:g} s (warmup {r.warmup:g} s)")
    run.add_row("seed x replications", f"{r.seed} x {r.replications}")
    run_time = r.load.run_time or r.duration
    load = f"{r.load.users} users, spawn {r.load.spawn_rate:g}/s, {run_time:g} s"
    if r.load.arrival_rate:
        load += f", open workload {r.load.arrival_rate:g}/s"
    run.add_row("load", load)
    return [profile, catalog, buyers, timing, faults, run]


def _print_diagram(s: Scenario, console: Any) -> None:
    if s.diagram is None:
        console.print("no diagram")
        return
    console.print(f"[bold]diagram[/bold] {s.diagram.file}")
    console.print(s.load_diagram().to_mermaid(), markup=False, soft_wrap=True)  # type: ignore[union-attr]


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# ISO 4217 currencies without minor units; every other one has cents.
_NO_MINOR_UNITS = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "UGX", "XAF", "XOF"})


def _money(amount: int, currency: str) -> str:
    if currency in _NO_MINOR_UNITS:
        return f"{amount} {currency}"
    return f"{amount / 100:.2f} {currency}"


def _dist(d: Any) -> str:
    params = ", ".join(f"{k}={v:g}" for k, v in d.model_dump().items() if k != "dist")
    return f"{d.dist}({params}) mean {d.mean:.3g} s"
