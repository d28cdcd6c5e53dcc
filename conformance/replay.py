"""Replay scripts: the minimal failing sequence, runnable against the SUT.

``write_replay_script`` writes a short Python file holding the failing steps as data (the
harness operations with their arguments, carts and orders by name) and the run's settings.
Running it resets the shop, sets up the same catalog and stock, and performs each step
through the same adapter and the same ``Driver`` the suite used, printing every request
and answer and marking the steps whose answer the flow does not allow. New carts and
orders get new ids; the names carry them from step to step. Payments are signed and
delivered by the script itself (no gateway double needed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pprint
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.adapters.base import NotSupported, Outcome, ShopAdapter
from conformance.audit import audit
from conformance.check_options import CANONICAL
from conformance.driver import Driver
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
same adapter; a step whose answer the flow does not allow is marked MISMATCH. Exit status 1
when the failure reproduced. Needs purchaseflow installed (pip install -e .).

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
    def __init__(self, target: Target, out: Callable[[str], None] = print) -> None:
        self.target = target
        self.driver = Driver(target)
        self.out = out
        self.mismatches = 0

    def _show(self, step: dict[str, Any], answers: list[Outcome | None]) -> None:
        args = ", ".join(f"{k}={v}" for k, v in step["args"].items() if v is not None)
        self.out(f"{step['number']}. {step['operation']}({args})")
        for exchange in self.driver.recording.steps[-1].exchanges:
            if exchange.observation:
                continue
            self.out(f"     {exchange.method} {exchange.path} -> {exchange.status} "
                     f"{json.dumps(exchange.response_body, default=str)[:300]}")
        expected = step.get("expected")
        observed = [a for a in answers if a is not None]
        if expected and observed:
            first = observed[0]
            got = "ok" if first.ok else f"refused {first.code}"
            want_ok = expected == "ok" or expected.startswith("acknowledged")
            if want_ok != first.ok or (not first.ok and expected.startswith("refused")
                                       and expected.split()[1] != first.code):
                self.mismatches += 1
                self.out(f"     MISMATCH: the flow requires {expected}; the shop: {got}")

    def run(self, steps: list[dict[str, Any]]) -> int:
        self.driver.restart()
        for step in steps:
            self.driver.recording.step(step["operation"], step["args"], step.get("result"))
            try:
                answers = self._perform(step["operation"], step["args"], step.get("result"))
            except NotSupported as exc:
                self.out(f"{step['number']}. {step['operation']}: skipped ({exc})")
                continue
            self._show(step, answers)
        findings = audit(self.driver.stock(), self.driver.orders(),
                         stock_commit=self.target.policies.stock_commit,
                         received_by_harness=self.target.received())
        for finding in findings:
            self.out(f"AUDIT: {finding}")
        self.driver.detach()
        return 1 if self.mismatches or findings else 0

    def _perform(self, operation: str, a: dict[str, Any],
                 result: str | None) -> list[Outcome | None]:
        d, names = self.driver, self.driver.names
        ids = names.ids

        def total(value: dict[str, Any] | None) -> Money | None:
            return Money(int(value["amount"]), str(value["currency"])) if value else None

        if operation == "create_cart":
            outcome, cart_id = d.create_cart(None if a["anonymous"] else a["buyer"])
            if result and cart_id:
                ids[result] = cart_id
                ids[f"{result}.holder"] = a["buyer"]
            return [outcome]
        if operation == "set_line":
            return [d.set_line(a["actor"], ids[a["cart"]], a["variant_id"], a["location_id"],
                               a["quantity"])]
        if operation == "remove_line":
            return [d.remove_line(a["actor"], ids[a["cart"]], a["variant_id"])]
        if operation == "touch_foreign_cart":
            cart_id, variant_id = ids[a["cart"]], a["variant_id"]
            if a["action"] == "set_line":
                return [d.set_line(a["actor"], cart_id, variant_id, a["location_id"], 1)]
            if a["action"] == "remove_line":
                return [d.remove_line(a["actor"], cart_id, variant_id)]
            return [d.read_cart(a["actor"], cart_id)]
        if operation in ("place_order", "replay_order", "reuse_key"):
            outcome = d.place_order(a["buyer"], ids[a["cart"]], key=a.get("key"),
                                    expected_total=total(a.get("expected_total")),
                                    payment_method=a.get("payment_method"))
            if operation == "place_order" and result and outcome.ok:
                ids[result] = str(d.adapter.order_of(outcome)["order_id"])
                ids[f"{result}.buyer"] = a["buyer"]
            return [outcome]
        if operation == "read_order":
            return [d.read_order(a["actor"], ids[a["order"]])]
        if operation == "cancel_order":
            return [d.cancel_order(a["buyer"], ids[a["order"]])]
        if operation == "change_price":
            d.set_price(a["variant_id"], Money(int(a["amount"]), str(a["currency"])))
            return []
        if operation in ("pay", "forged_event"):
            order_name = a["order"]
            buyer = ids[f"{order_name}.buyer"]
            order = d.adapter.order_of(d.observe_order(buyer, ids[order_name]))
            session = d.payment_session(buyer, order) or "cs_replay"
            event = self.target.payments.signer.event(
                order_id=ids[order_name], session_id=session,
                outcome=PaymentOutcome(a["outcome"]), amount=total(order["total"]) or
                Money(0, self.target.policies.currency))
            forgery: Forgery = a.get("forgery", "none")
            answer = d.deliver(event, forgery)
            if result:
                names.events[result] = event
            return [answer]
        if operation == "redeliver":
            event = names.events[a["event"]]
            if a.get("copies", 1) > 1:
                return list(d.deliver_concurrently(event, int(a["copies"])))
            return [d.deliver(event)]
        if operation == "late_event":
            late = self.target.payments.later(names.events[a["event"]],
                                              PaymentOutcome(a["outcome"]), older=a["older"])
            if result:
                names.events[result] = late
            return [d.deliver(late)]
        if operation == "final checks":
            return []
        raise NotSupported(f"unknown step {operation!r}")


def main(config: dict[str, Any], steps: list[dict[str, Any]], argv: list[str]) -> int:
    from reference_impl.domain.policies import WebhookDialect
    from scenarios import load_scenario

    parser = argparse.ArgumentParser(description="Replay a failing purchaseflow sequence.")
    parser.add_argument("--url", default=config.get("url"))
    parser.add_argument("--admin-token", default=config.get("admin_token"))
    parser.add_argument("--webhook-secret", default=config.get("webhook_secret"))
    parser.add_argument("--adapter", default=config.get("adapter", CANONICAL))
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("the run checked a shop in process: give --url of a running shop")
    scenario = load_scenario(config["scenario"])
    adapter = load_adapter(args.adapter, args.url, args.admin_token)
    target = Target(adapter, scenario, args.webhook_secret, via_gateway=False,
                    stock_cap=int(config.get("stock_cap", 4)))
    assert target.policies.webhook_dialect in tuple(WebhookDialect)
    try:
        return Replayer(target).run(steps)
    finally:
        adapter.close()
