"""``purchaseflow demo``: every seed flow, end to end, on loopback.

For each seed scenario it starts the reference implementation in that seed's profile
(``serve --scenario``, SQLite file), the gateway double in the seed's webhook dialect and
the mail sink; then it walks the happy path (paid, one email, stock sold) and the failure
path (declined, no email, stock back), and checks two traces against the seed's own
sequence diagram: the shop's full trace (what it recorded itself, plus the buyer paying at the
gateway), and the boundary trace the harness saw (``conformance.boundary``), against the
diagram projected onto its observable participants. It prints one table and writes
``summary.json`` and the traces.

``seed_harness`` and ``walk`` are what ``tests/scenarios/test_seed_traces.py`` runs too.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.adapters import CanonicalAdapter
from conformance.boundary import (
    boundary_trace,
    environment_trace,
    merge,
    recording,
    shop_trace,
)
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop, ShopStartError
from reference_impl.cli import CommandError
from reference_impl.domain.policies import PaymentMode
from reference_impl.domain.trace import TraceEvent
from scenarios import Scenario, ScenarioError, load_scenario
from scenarios.catalog_setup import shop_setup
from scenarios.diagrams import TraceVerdict

SEEDS_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "seeds"
ADMIN_TOKEN = "demo-admin-token"
JWT_SECRET = "demo-jwt-secret-0123456789abcdef0123"
WEBHOOK_SECRET = "whsec_demo_secret"


@dataclass
class PathResult:
    name: str
    expected: str
    status: str = "-"
    emails: int = 0
    stock_ok: bool = False
    trace_verdict: str = "-"  # the shop's full trace against the whole diagram
    boundary_verdict: str = "-"  # what the harness saw, against the diagram's projection
    problems: list[str] = field(default_factory=list)
    order_id: str | None = None
    #: The shop's own trace of the session (browse, cart, order, webhook) plus the buyer
    #: paying at the gateway; and the boundary trace the harness recorded (conformance.boundary).
    trace: list[TraceEvent] = field(default_factory=list)
    boundary: list[TraceEvent] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        conforms = all(v in ("conforms", "-") for v in (self.trace_verdict, self.boundary_verdict))
        return self.status == self.expected and self.stock_ok and conforms and not self.problems

    def summary(self) -> dict[str, Any]:
        fields = ("name", "expected", "status", "emails", "stock_ok", "trace_verdict",
                  "boundary_verdict", "problems", "order_id")
        return {name: getattr(self, name) for name in fields} | {"ok": self.ok}


@dataclass
class SeedResult:
    scenario: str
    profile: str
    paths: list[PathResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.paths)


@dataclass
class SeedHarness:
    """One seed's reference shop, gateway double and mail sink, running and set up."""

    scenario: Scenario
    adapter: CanonicalAdapter
    gateway: GatewayDouble
    sink: MailSink


@contextmanager
def seed_harness(path: Path) -> Iterator[SeedHarness]:
    """The reference implementation serving ``path``'s profile (SQLite file), with the
    gateway double in its webhook dialect and the mail sink, all on loopback."""
    scenario = load_scenario(path)
    policies = scenario.policies()
    with (
        MailSink() as sink,
        GatewayDouble(secret=WEBHOOK_SECRET, dialect=policies.webhook_dialect) as gateway,
        ReferenceShop(scenario=str(path), admin_token=ADMIN_TOKEN, jwt_secret=JWT_SECRET,
                      webhook_secret=WEBHOOK_SECRET, gateway_url=gateway.url,
                      smtp_port=sink.smtp_port, worker_poll=0.1) as shop,
    ):
        gateway.configure_webhook(url=f"{shop.url}/payments/webhook")
        adapter = CanonicalAdapter(shop.url, admin_token=ADMIN_TOKEN)
        try:
            adapter.reset()
            adapter.set_up(shop_setup(scenario))
            yield SeedHarness(scenario, adapter, gateway, sink)
        finally:
            adapter.close()


def _buyer(scenario: Scenario) -> str:
    active = [u.id for u in scenario.catalog.users if u.active]
    return active[0] if active else "demo-buyer"


def _first_in_stock(scenario: Scenario) -> tuple[str, str, str]:
    """(product, variant, location) with the most stock of a deliverable variant."""
    product_of = {v.id: p.id for p, v in scenario.catalog.variants() if v.deliverable}
    entry = max((s for s in scenario.catalog.stock if s.variant in product_of),
                key=lambda s: s.quantity)
    return product_of[entry.variant], entry.variant, entry.location


def _level(adapter: CanonicalAdapter, variant: str, location: str) -> dict[str, Any]:
    return next(s for s in adapter.stock()
                if s["variant_id"] == variant and s["location_id"] == location)


def walk(harness: SeedHarness, succeed: bool) -> PathResult:
    """One buyer session through the seed's flow: paid (``succeed``) or declined.

    Checks the outcome (status, emails, stock) and both traces against the seed's diagram.
    """
    scenario, adapter = harness.scenario, harness.adapter
    gateway, sink = harness.gateway, harness.sink
    policies = scenario.policies()
    name = "happy" if succeed else "failure"
    result = PathResult(name, "paid" if succeed else "payment_failed")
    buyer = _buyer(scenario)
    product, variant, location = _first_in_stock(scenario)
    before = _level(adapter, variant, location)
    exposes = scenario.profile.exposes
    session = f"session_{uuid.uuid4().hex[:16]}"
    with recording(adapter, session) as recorder:
        if exposes.browse:  # seed 003: browse and view before any cart exists
            adapter.list_products(buyer)
        if exposes.view:
            adapter.view_product(product, buyer)
        cart = adapter.create_cart(buyer)
        cart_id = str(cart.body["cart_id"])
        added = adapter.set_line(buyer, cart_id, variant, location, 1)
        if not added.ok:
            result.problems.append(f"add to cart refused: {added.code}")
            return result
        sync = policies.payment_mode is PaymentMode.SYNCHRONOUS
        placed = adapter.place_order(
            buyer, cart_id, payment_method=None if succeed else "pm_card_chargeDeclined")
        if not placed.ok:
            result.problems.append(f"order refused: {placed.code}")
            return result
        order = placed.body
        result.order_id = order_id = str(order["order_id"])
        if not sync:
            payment = order.get("payment") or {}
            if exposes.checkout_link == "fetched_later" or not payment.get("session_id"):
                payment = adapter.payment_link(buyer, order_id).body  # seed 000
            gateway.complete(payment["session_id"], "succeeded" if succeed else "failed")
            gateway.wait_idle(20)
        deadline = time.monotonic() + 10
        while True:
            final = adapter.read_order(buyer, order_id).body
            if final["status"] != "pending_payment" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    result.status = final["status"]
    if succeed and policies.send_confirmation_email:
        try:
            sink.wait_for(order_id, 1, timeout=10)
        except TimeoutError:
            result.problems.append("no confirmation email")
    time.sleep(0.2)
    mail = sink.messages(order_id)
    result.emails = len(mail)
    expected_emails = 1 if succeed and policies.send_confirmation_email else 0
    if result.emails != expected_emails:
        result.problems.append(f"{result.emails} emails, expected {expected_emails}")
    after = _level(adapter, variant, location)
    sold = after["sold"] - before["sold"]
    result.stock_ok = (sold == 1 if succeed else sold == 0 and after["reserved"] ==
                       before["reserved"] and after["on_hand"] == before["on_hand"])
    gateway_log = gateway.events(order_id=order_id)
    result.trace = merge(shop_trace(adapter, session, cart_id),
                         environment_trace(gateway_log, cart_id))
    result.boundary = boundary_trace(recorder, gateway_log, mail)
    if scenario.diagram is not None:
        result.trace_verdict = _verdict(scenario.check_trace(result.trace))
        result.boundary_verdict = _verdict(scenario.check_trace(result.boundary, black_box=True))
    return result


def _verdict(verdict: TraceVerdict) -> str:
    return "conforms" if verdict.ok else f"differs: {verdict.reason}"


def run_seed(path: Path, out: Path) -> SeedResult:
    with seed_harness(path) as harness:
        scenario = harness.scenario
        result = SeedResult(path.name, scenario.profile.name)
        for succeed in (True, False):
            walked = walk(harness, succeed)
            result.paths.append(walked)
            for kind, events in (("trace", walked.trace), ("boundary", walked.boundary)):
                (out / f"{scenario.profile.name}-{walked.name}.{kind}.json").write_text(
                    json.dumps([e.to_json() for e in events], indent=1))
    return result


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run every seed flow end to end on loopback and print a summary",
        description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", default="purchaseflow-demo", help="report folder")
    parser.add_argument("--seed", action="append", dest="seeds", metavar="ID",
                        help="only this seed (e.g. 001); repeatable")
    parser.add_argument("--skip", action="append", default=[],
                        choices=["conformance", "simulation", "load"],
                        help="leave out a stage after the seed walk-throughs; repeatable")
    parser.add_argument("--load-seconds", type=int, default=20, help="length of the load run")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from conformance import demo_stages
    from conformance.demo_report import write_index

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(SEEDS_DIR.glob("seed_*.yaml"))
    if args.seeds:
        files = [f for f in files if any(f.name.startswith(f"seed_{s}") for s in args.seeds)]
        if not files:
            raise CommandError(f"no seed scenario matches {', '.join(args.seeds)}")
    if not 1 <= args.load_seconds <= 600:
        raise CommandError("--load-seconds must be between 1 and 600")
    console = Console()
    results = []
    started = time.monotonic()
    for path in files:
        console.print(f"[bold]{path.name}[/]: shop, gateway and mail sink; happy and "
                      "failure paths...")
        try:
            results.append(run_seed(path, out))
        except (ScenarioError, ShopStartError) as exc:
            raise CommandError(f"{path.name}: {exc}") from None
    stages: list[demo_stages.StageResult] = []
    runs: tuple[tuple[str, Callable[[], demo_stages.StageResult]], ...] = (
        ("conformance", lambda: demo_stages.conformance_stage(out)),
        ("simulation", lambda: demo_stages.simulation_stage(out)),
        ("load", lambda: demo_stages.load_stage(out, args.load_seconds)),
    )
    for name, run_stage in runs:
        if name in args.skip:
            continue
        console.print(f"[bold]{name}[/]...")
        stages.append(run_stage())

    table = Table(title=f"purchaseflow demo ({time.monotonic() - started:.0f} s)",
                  show_lines=False)
    for column in ("what", "result", "trace vs diagram", "boundary vs diagram", "ok"):
        table.add_column(column, overflow="fold")
    for seed in results:
        for p in seed.paths:
            result = f"{p.status}, {p.emails} email(s), stock {'ok' if p.stock_ok else 'WRONG'}"
            table.add_row(f"{seed.profile} {p.name}", result, p.trace_verdict[:70],
                          p.boundary_verdict[:70],
                          "[green]yes[/]" if p.ok else f"[red]no[/] {'; '.join(p.problems)}")
    for stage in stages:
        table.add_row(stage.name, stage.summary, "", "",
                      "[green]yes[/]" if stage.ok else "[red]no[/]")
    console.print(table)
    summary = {
        "seeds": [{"scenario": s.scenario, "profile": s.profile, "ok": s.ok,
                   "paths": [p.summary() for p in s.paths]} for s in results],
        "stages": [asdict(stage) for stage in stages],
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    index = write_index(out, summary)
    console.print(f"report: {index.resolve()}")
    return 0 if all(s.ok for s in results) and all(st.ok for st in stages) else 1
