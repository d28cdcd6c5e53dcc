"""The conformance suite's speed: a default full run, time to first failure, and a baseline.

In one run, on loopback:

* the default full run (``purchaseflow check`` with its default budget) against the
  reference implementation served by ``purchaseflow serve`` in seed 001's profile (the
  richest: webhooks, emails, cart clearing, on_payment stock), with the gateway double and
  the mail sink started by the check as a user's would be; issue 6's goal: at most 120 s;
* the time to the first failure against each deliberately broken shop
  (tests/conformance/broken_shops.py, in process, ``fail_fast``), and which invariant and
  which phase caught it;
* the baseline: a bare Schemathesis run (its defaults, all phases, no max-time, none of the
  suite's custom checks) over the same shop's document, as ``st run`` would do it.

It prints the figures, and the full run's time as a ratio of the baseline's.

    .venv/bin/python benchmarks/bench_conformance.py [--budget 90] [--seed 0]
        [--baseline-examples 100] [--skip-full] [--skip-broken] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import schemathesis
from schemathesis.engine import events, from_schema

from conformance.check_options import DEFAULT_BUDGET, CheckConfig
from conformance.check_run import run_check
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop, free_port
from conformance.schema_checks import CHECK_INVARIANT
from conformance.suite import run_suite
from tests.conformance.broken_shops import BROKEN_SHOPS
from tests.conformance.shops import (
    ADMIN_TOKEN,
    JWT_SECRET,
    WEBHOOK_SECRET,
    in_process_target,
    seed,
)

#: The suite's own checks, switched off for the baseline (they are no-ops outside a suite
#: run anyway; this keeps the baseline exactly Schemathesis' stock behaviour).
CUSTOM_CHECKS = [name for name in CHECK_INVARIANT if name not in (
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "allow_header_conformance",
    "use_after_free", "ensure_resource_availability", "negative_data_rejection",
    "positive_data_acceptance", "missing_required_header", "unsupported_method",
    "ignored_auth")]


def full_run(budget: float, seed_value: int, folder: Path) -> tuple[float, str, dict[str, int]]:
    gateway_port, smtp_port = free_port(), free_port()
    with ReferenceShop(scenario=str(seed("001")), admin_token=ADMIN_TOKEN, jwt_secret=JWT_SECRET,
                       webhook_secret=WEBHOOK_SECRET, worker_poll=0.1,
                       gateway_url=f"http://127.0.0.1:{gateway_port}",
                       smtp_port=smtp_port) as shop:
        started = time.monotonic()
        report = run_check(CheckConfig(
            url=shop.url, scenario=str(seed("001")), admin_token=ADMIN_TOKEN,
            webhook_secret=WEBHOOK_SECRET, gateway_port=gateway_port, smtp_port=smtp_port,
            budget=budget, seed=seed_value, report_dir=str(folder / "full")))
        seconds = time.monotonic() - started
    examples = {v.invariant: v.examples for v in report.verdicts.values()}
    return seconds, report.summary_line(), examples


def baseline(examples: int, seed_value: int) -> tuple[float, int, int]:
    """A bare Schemathesis run over the same shop: ``(seconds, test cases, failures)``."""
    gateway_port, smtp_port = free_port(), free_port()
    with GatewayDouble(secret=WEBHOOK_SECRET, port=gateway_port), \
            MailSink(smtp_port=smtp_port), \
            ReferenceShop(scenario=str(seed("001")), admin_token=ADMIN_TOKEN,
                          jwt_secret=JWT_SECRET, webhook_secret=WEBHOOK_SECRET,
                          gateway_url=f"http://127.0.0.1:{gateway_port}",
                          smtp_port=smtp_port) as shop:
        import httpx

        token = httpx.post(f"{shop.url}/admin/tokens", json={"user_id": "alice"},
                           headers={"X-Admin-Token": ADMIN_TOKEN}).json()["token"]
        config = schemathesis.Config.from_dict({
            "seed": seed_value, "workers": 1,
            "headers": {"Authorization": f"Bearer {token}", "X-Admin-Token": ADMIN_TOKEN},
            "generation": {"max-examples": examples},
            "checks": {name: {"enabled": False} for name in CUSTOM_CHECKS}})
        started = time.monotonic()
        schema = schemathesis.openapi.from_url(f"{shop.url}/openapi.json", config=config)
        cases = failures = 0
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                cases += len(event.recorder.checks)
                failures += len(event.recorder.failing_case_ids())
        return time.monotonic() - started, cases, failures


def broken_shops(seed_value: int, folder: Path) -> list[tuple[str, str, str, str, float, float]]:
    rows = []
    with GatewayDouble(secret=WEBHOOK_SECRET) as gateway, MailSink() as mail:
        for shop in BROKEN_SHOPS:
            with in_process_target(seed(shop.seed), folder, gateway, mail,
                                   build=shop.build) as target:
                started = time.monotonic()
                report = run_suite(target.adapter, target.scenario,
                                   webhook_secret=WEBHOOK_SECRET, gateway=gateway, mailbox=mail,
                                   via_gateway=False, fail_fast=True, seed=seed_value)
                wall = time.monotonic() - started
            first = report.first_failure
            rows.append((shop.name, shop.invariant, first.invariant if first else "-",
                         first.caught_by or "-" if first else "NOT CAUGHT",
                         first.seconds_to_catch or 0.0 if first else float("nan"), wall))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-examples", type=int, default=100,
                        help="Schemathesis' max-examples for the baseline (its default: 100)")
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument("--skip-broken", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # broken shops raise on purpose
    folder = Path(tempfile.mkdtemp(prefix="bench-conformance-"))
    full = base = None
    if not args.skip_full:
        seconds, summary, examples = full_run(args.budget, args.seed, folder)
        full = seconds
        print(f"default full run (budget {args.budget:g} s) against the reference, seed 001 "
              f"profile, real socket: {seconds:.1f} s (goal: <= 120 s)")
        print(f"  {summary}")
        print("  examples per invariant: " + ", ".join(f"{k} {v}" for k, v in examples.items()))
    if not args.skip_broken:
        print("\ntime to first failure, per broken shop (in process, fail fast):")
        print(f"  {'broken shop':38} {'want':5} {'named':5} {'caught by':34} {'to catch':>9} "
              f"{'wall':>7}")
        for name, want, got, by, seconds, wall in broken_shops(args.seed, folder):
            flag = "" if want == got else "  <-- WRONG"
            print(f"  {name:38} {want:5} {got:5} {by:34} {seconds:8.2f}s {wall:6.2f}s{flag}")
    if not args.skip_baseline:
        seconds, cases, failures = baseline(args.baseline_examples, args.seed)
        base = seconds
        print(f"\nbaseline: bare Schemathesis (max-examples {args.baseline_examples}, all phases) "
              f"over the same document: {seconds:.1f} s, {cases} test cases, {failures} failing")
    if full is not None and base:
        print(f"ratio: the full conformance run takes {full / base:.2f}x the bare Schemathesis "
              "run")
    print(f"\nreports: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
