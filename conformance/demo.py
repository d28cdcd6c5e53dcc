"""``purchaseflow demo``: every seed flow, end to end, on loopback.

For each seed scenario it starts the reference implementation in that seed's profile
(``serve --scenario``, SQLite file), the gateway double in the seed's webhook dialect and
the mail sink; then it walks the happy path (paid, one email, stock sold) and the failure
path (declined, no email, stock back), and checks the shop's trace against the seed's own
sequence diagram. It prints one table and writes ``summary.json`` and the traces.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.adapters import CanonicalAdapter
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop, ShopStartError
from reference_impl.cli import CommandError
from reference_impl.domain.policies import PaymentMode
from reference_impl.domain.trace import TraceEvent
from scenarios import Scenario, ScenarioError, load_scenario
from scenarios.catalog_setup import shop_setup

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
    trace_verdict: str = "-"
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == self.expected and self.stock_ok and not self.problems


@dataclass
class SeedResult:
    scenario: str
    profile: str
    paths: list[PathResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.paths)


def _buyer(scenario: Scenario) -> str:
    active = [u.id for u in scenario.catalog.users if u.active]
    return active[0] if active else "demo-buyer"


def _first_in_stock(scenario: Scenario) -> tuple[str, str]:
    deliverable = {v.id for _, v in scenario.catalog.variants() if v.deliverable}
    entry = max((s for s in scenario.catalog.stock if s.variant in deliverable),
                key=lambda s: s.quantity)
    return entry.variant, entry.location


def _level(adapter: CanonicalAdapter, variant: str, location: str) -> dict[str, Any]:
    return next(s for s in adapter.stock()
                if s["variant_id"] == variant and s["location_id"] == location)


def walk(scenario: Scenario, adapter: CanonicalAdapter, gateway: GatewayDouble, sink: MailSink,
         succeed: bool, out: Path) -> PathResult:
    policies = scenario.policies()
    name = "happy" if succeed else "failure"
    result = PathResult(name, "paid" if succeed else "payment_failed")
    buyer = _buyer(scenario)
    variant, location = _first_in_stock(scenario)
    before = _level(adapter, variant, location)
    exposes = scenario.profile.exposes
    if exposes.browse:
        adapter.list_products(buyer)
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
    if not sync:
        payment = order.get("payment") or {}
        if exposes.checkout_link == "fetched_later" or not payment.get("session_id"):
            payment = adapter.payment_link(buyer, order["order_id"]).body  # seed 000
        gateway.complete(payment["session_id"], "succeeded" if succeed else "failed")
        gateway.wait_idle(20)
    deadline = time.monotonic() + 10
    while True:
        final = adapter.read_order(buyer, order["order_id"]).body
        if final["status"] != "pending_payment" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    result.status = final["status"]
    if succeed and policies.send_confirmation_email:
        try:
            sink.wait_for(order["order_id"], 1, timeout=10)
        except TimeoutError:
            result.problems.append("no confirmation email")
    time.sleep(0.2)
    result.emails = len(sink.messages(order["order_id"]))
    expected_emails = 1 if succeed and policies.send_confirmation_email else 0
    if result.emails != expected_emails:
        result.problems.append(f"{result.emails} emails, expected {expected_emails}")
    after = _level(adapter, variant, location)
    sold = after["sold"] - before["sold"]
    result.stock_ok = (sold == 1 if succeed else sold == 0 and after["reserved"] ==
                       before["reserved"] and after["on_hand"] == before["on_hand"])
    events = [TraceEvent.from_json(e) for e in adapter.trace(cart_id)]
    (out / f"{scenario.profile.name}-{name}.trace.json").write_text(
        json.dumps([e.to_json() for e in events], indent=1))
    if scenario.diagram is not None:
        verdict = scenario.check_trace(events)
        result.trace_verdict = "conforms" if verdict.ok else f"differs: {verdict.reason}"
    return result


def run_seed(path: Path, out: Path) -> SeedResult:
    scenario = load_scenario(path)
    result = SeedResult(path.name, scenario.profile.name)
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
            for succeed in (True, False):
                result.paths.append(walk(scenario, adapter, gateway, sink, succeed, out))
        finally:
            adapter.close()
    return result


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run every seed flow end to end on loopback and print a summary",
        description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", default="purchaseflow-demo", help="report folder")
    parser.add_argument("--seed", action="append", dest="seeds", metavar="ID",
                        help="only this seed (e.g. 001); repeatable")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(SEEDS_DIR.glob("seed_*.yaml"))
    if args.seeds:
        files = [f for f in files if any(f.name.startswith(f"seed_{s}") for s in args.seeds)]
        if not files:
            raise CommandError(f"no seed scenario matches {', '.join(args.seeds)}")
    console = Console()
    results = []
    started = time.monotonic()
    for path in files:
        console.print(f"[bold]{path.name}[/]: starting shop, gateway and mail sink...")
        try:
            results.append(run_seed(path, out))
        except (ScenarioError, ShopStartError) as exc:
            raise CommandError(f"{path.name}: {exc}") from None
    table = Table(title=f"purchaseflow demo ({time.monotonic() - started:.0f} s)")
    for column in ("profile", "path", "status", "emails", "stock", "trace vs diagram", "ok"):
        table.add_column(column)
    for seed in results:
        for p in seed.paths:
            table.add_row(seed.profile, p.name, p.status, str(p.emails),
                          "ok" if p.stock_ok else "WRONG", p.trace_verdict[:60],
                          "[green]yes[/]" if p.ok else f"[red]no[/] {'; '.join(p.problems)}")
    console.print(table)
    (out / "summary.json").write_text(json.dumps(
        [{"scenario": s.scenario, "profile": s.profile, "ok": s.ok,
          "paths": [asdict(p) | {"ok": p.ok} for p in s.paths]} for s in results], indent=2))
    console.print(f"report: {out.resolve()}")
    return 0 if all(s.ok for s in results) else 1
