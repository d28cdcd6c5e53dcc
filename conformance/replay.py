"""Replay scripts: the minimal failing sequence, runnable against the SUT.

``write_replay_script`` writes a short Python file holding the failing steps as data (the
harness operations with their arguments, carts and orders by name) and the run's settings.
Running it resets the shop, sets up the same catalog and stock, and walks the steps through
the suite's own state machine: the same operations, the same model, the same checks. It
prints every request and answer and stops at the first violation, as the run did. New
carts and orders get new ids; the names carry them from step to step. Payments are signed
and delivered by the script itself (no gateway double needed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pprint
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.adapters.base import NotSupported, ShopAdapter
from conformance.check_options import CANONICAL
from conformance.payments import Forgery
from conformance.recording import Step
from conformance.target import Target
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentOutcome

AdapterFactory = Callable[..., ShopAdapter]

_TEMPLATE = '''#!/usr/bin/env python3
"""Replay of the minimal failing sequence for {invariant}, found by purchaseflow check.

    python {name}                                  # the shop the run checked
    python {name} --url http://127.0.0.1:8000      # another shop, same profile

Resets the shop, loads the run's catalog and stock, and performs each step through the
same adapter, model and checks as the run; it stops at the violation. Exit status 1 when
the failure reproduced. Needs purchaseflow installed (pip install -e .).

Finding: {finding}
"""

import sys

from conformance.replay import main

CONFIG = {config}

STEPS = {steps}

if __name__ == "__main__":
    sys.exit(main(CONFIG, STEPS, sys.argv[1:]))
'''


def write_replay_script(path: Path, *, invariant: str, finding: str, steps: list[Step],
                        config: dict[str, Any]) -> None:
    data = [{"number": s.number, "operation": s.operation, "args": s.args,
             "result": s.result, "expected": s.expected} for s in steps if s.number > 0]
    path.write_text(_TEMPLATE.format(
        invariant=invariant, name=path.name, finding=finding.replace('"""', "'''"),
        config=pprint.pformat(config, width=96, sort_dicts=False),
        steps=pprint.pformat(data, width=96, sort_dicts=False)))
    path.chmod(0o755)


def load_adapter(spec: str, url: str, admin_token: str) -> ShopAdapter:
    """``module:Class`` (or a factory) called as ``factory(url, admin_token=...)``."""
    module_name, _, attribute = spec.partition(":")
    if not attribute:
        raise ValueError(f"--adapter {spec!r}: expected module:Class")
    factory: AdapterFactory = getattr(importlib.import_module(module_name), attribute)
    return factory(url, admin_token=admin_token)


class Replayer:
    """Walks the recorded steps through the state machine again: the same operations, the
    same model and the same checks, so a replay fails where the run failed."""

    def __init__(self, target: Target, out: Callable[[str], None] = print) -> None:
        from conformance.invariants import INVARIANTS, not_applicable
        from conformance.sequential import SequentialRun

        self.target, self.out = target, out
        skipped = not_applicable(target.scenario)
        self.run_state = SequentialRun(target, {i for i in INVARIANTS if i not in skipped})

    def run(self, steps: list[dict[str, Any]]) -> int:
        from conformance.machine import InvariantViolation

        machine: Any = self.run_state._machine()
        refs: dict[str, Any] = {}
        shown = 0
        try:
            for step in steps:
                args = ", ".join(f"{k}={v}" for k, v in step["args"].items() if v is not None)
                self.out(f"{step['number']}. {step['operation']}({args})")
                try:
                    made = self._perform(machine, step, refs)
                    if step["operation"] != "final checks":
                        machine.agree()
                finally:
                    shown = self._show(machine, shown)
                if step.get("result") and made is not None:
                    refs[step["result"]] = made
            machine.teardown()
        except InvariantViolation as exc:
            self.out(f"FAILED {exc.invariant}: {exc}")
            return 1
        except NotSupported as exc:
            self.out(f"cannot replay: {exc}")
            return 2
        finally:
            self.run_state.close()
        self.out("every step answered as the flow requires: the failure did not reproduce")
        return 0

    def _show(self, machine: Any, shown: int) -> int:
        steps = machine.recording.steps
        for step in steps[shown:]:
            for exchange in step.exchanges:
                if not exchange.observation:
                    self.out(f"     {exchange.method} {exchange.path} -> {exchange.status} "
                             f"{json.dumps(exchange.response_body, default=str)[:240]}")
            if step.expected or step.observed:
                self.out(f"     expected {step.expected}; observed {step.observed}")
        return len(steps)

    @staticmethod
    def _perform(m: Any, step: dict[str, Any], refs: dict[str, Any]) -> Any:
        op, a = step["operation"], step["args"]

        def money(value: dict[str, Any] | None) -> Money | None:
            return Money(int(value["amount"]), str(value["currency"])) if value else None

        if op == "create_cart":
            return m.create_cart(a["buyer"], a["anonymous"])
        if op == "set_line":
            return m.do_set_line(refs[a["cart"]], a["variant_id"], a["location_id"],
                                 a["quantity"])
        if op == "remove_line":
            return m.remove_line(refs[a["cart"]], a["variant_id"])
        if op == "touch_foreign_cart":
            return m.do_touch_foreign_cart(refs[a["cart"]], a["action"])
        if op == "place_order":
            return m.do_place_order(refs[a["cart"]], a["buyer"], bool(a.get("key")),
                                    money(a.get("expected_total")), a.get("payment_method"),
                                    key=a.get("key"))
        if op == "replay_order":
            return m.do_replay_order(refs[a["order"]])
        if op == "reuse_key":
            return m.do_reuse_key(refs[a["order"]])
        if op == "read_order":
            order = refs[a["order"]]
            return m.do_read_order(order, a["actor"] != order.buyer)
        if op == "cancel_order":
            return m.do_cancel_order(refs[a["order"]])
        if op == "change_price":
            current = m.model.price(a["variant_id"])
            return m.do_change_price(a["variant_id"], int(a["amount"]) - current.amount)
        if op == "pay":
            return m.do_pay(refs[a["order"]], PaymentOutcome(a["outcome"]))
        if op == "redeliver":
            return m.do_redeliver(refs[a["event"]], int(a.get("copies", 1)))
        if op == "late_event":
            return m.do_contradict(refs[a["event"]], bool(a["older"]))
        if op == "forged_event":
            forgery: Forgery = a["forgery"]
            return m.do_forge(refs[a["order"]], forgery)
        if op == "final checks":
            return None  # the teardown after the last step does them
        raise NotSupported(f"unknown step {op!r}")


def main(config: dict[str, Any], steps: list[dict[str, Any]], argv: list[str]) -> int:
    from conformance.check_options import CheckConfig, HarnessError
    from conformance.check_run import doubles
    from scenarios import load_scenario

    parser = argparse.ArgumentParser(description="Replay a failing purchaseflow sequence.")
    parser.add_argument("--url", default=config.get("url"))
    parser.add_argument("--admin-token", default=config.get("admin_token"))
    parser.add_argument("--webhook-secret", default=config.get("webhook_secret"))
    parser.add_argument("--adapter", default=config.get("adapter", CANONICAL))
    parser.add_argument("--gateway-url", default=config.get("gateway_url"),
                        help="the gateway double the shop calls, if one is running")
    parser.add_argument("--gateway-port", type=int, default=config.get("gateway_port"),
                        help="else start one on this port (the run's, by default)")
    parser.add_argument("--mail-url", default=config.get("mail_url"),
                        help="the mail sink the shop sends to, if one is running")
    parser.add_argument("--smtp-port", type=int, default=config.get("smtp_port"),
                        help="else start one on this port (the run's, by default)")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("the run checked a shop in process: give --url of a running shop")
    scenario = load_scenario(config["scenario"])
    adapter = load_adapter(args.adapter, args.url, args.admin_token)
    settings = CheckConfig(url=args.url, webhook_secret=args.webhook_secret,
                           gateway_url=args.gateway_url, mail_url=args.mail_url)
    if args.gateway_port:
        settings.gateway_port = args.gateway_port
    if args.smtp_port:
        settings.smtp_port = args.smtp_port
    try:
        with doubles(settings, scenario) as (gateway, mailbox):
            # The double serves the shop's own calls; the script delivers the webhooks.
            target = Target(adapter, scenario, args.webhook_secret, gateway=gateway,
                            mailbox=mailbox, via_gateway=False,
                            stock_cap=int(config.get("stock_cap", 4)))
            return Replayer(target).run(steps)
    except HarnessError as exc:
        print(f"cannot replay: {exc}")
        return 2
    finally:
        adapter.close()
