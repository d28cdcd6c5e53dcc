"""The suite's parts on their own: histories, signatures, the report, transports."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from conformance.adapters import HttpCall, HttpxTransport, Outcome
from conformance.agreement import check_history, check_sequence
from conformance.audit import audit_holdings
from conformance.history import History
from conformance.invariants import INVARIANTS, parse_only
from conformance.payments import FORGERIES, WebhookSigner
from conformance.report import FAILED, NOT_APPLICABLE, PASSED, Report, Verdict
from reference_impl.domain import signatures
from reference_impl.domain.errors import InvalidSignature
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentOutcome
from reference_impl.domain.policies import StockCommitPoint, WebhookDialect


def test_history_records_invoke_and_completion_jepsen_style(tmp_path: Path) -> None:
    history = History("example")

    def refused() -> Outcome:
        return Outcome(False, 409, "items_unavailable")

    def broken() -> Outcome:
        raise OSError("connection reset")

    history.call(0, "create_order", {"cart": "c1"}, lambda: Outcome(True, 201, body={
        "order_id": "o1"}))
    history.call(1, "create_order", {"cart": "c2"}, refused)
    history.call(2, "create_order", {"cart": "c3"}, broken)
    history.call(3, "create_order", {"cart": "c4"}, lambda: Outcome(False, 503))
    kinds = [op.type for op in history.ops]
    assert kinds == ["invoke", "ok", "invoke", "fail", "invoke", "info", "invoke", "info"]
    assert history.count("ok") == 1 and history.count("info") == 2
    times = [op.time for op in history.ops]
    assert times == sorted(times)
    history.save(tmp_path / "h.jsonl")
    lines = [json.loads(line) for line in (tmp_path / "h.jsonl").read_text().splitlines()]
    assert lines[1] == {**lines[1], "type": "ok", "f": "create_order", "process": 0}
    assert lines[1]["value"]["order_id"] == "o1"


@pytest.mark.parametrize("dialect", list(WebhookDialect))
def test_the_harness_signs_like_the_gateway_and_forges_on_purpose(
        dialect: WebhookDialect) -> None:
    signer = WebhookSigner("whsec_parts", dialect)
    event = signer.event(order_id="ord_1", session_id="cs_1",
                         outcome=PaymentOutcome.SUCCEEDED, amount=Money(990, "EUR"))
    header = signatures.SIGNATURE_HEADERS[dialect]
    body, headers = signer.sign(event)
    signatures.verify("whsec_parts", headers[header], body, time.time())
    for forgery in FORGERIES:
        body, headers = signer.sign(event, forgery)
        with pytest.raises(InvalidSignature):
            signatures.verify("whsec_parts", headers.get(header), body, time.time())


def test_histories_and_sequences_are_judged_by_the_transition_table() -> None:
    assert check_history({"status": "paid", "history": ["pending_payment", "paid"]}, "o") == []
    assert check_history({"status": "payment_failed",
                          "history": ["pending_payment", "paid", "payment_failed"]}, "o")
    # Two looks may straddle several moves: paid then refunded is fine, back is not.
    assert check_sequence(["pending_payment", "refunded"], "o") == []
    assert check_sequence(["paid", "pending_payment"], "o")


def test_holdings_catch_two_orders_on_one_unit_even_with_balanced_counters() -> None:
    levels = [{"variant_id": "v", "location_id": "l", "on_hand": 0, "reserved": 1, "sold": 0,
               "received": 1}]
    orders = [{"order_id": f"o{i}", "status": "pending_payment",
               "lines": [{"variant_id": "v", "location_id": "l", "quantity": 1}]}
              for i in range(2)]
    [finding] = audit_holdings(levels, orders, StockCommitPoint.RESERVE)
    assert finding.invariant == "I1" and "account for 2" in finding.message


def test_only_accepts_known_invariants() -> None:
    assert parse_only("i1, C1,I1") == ("I1", "C1")
    with pytest.raises(ValueError, match="I12"):
        parse_only("I12")


def test_report_files_say_the_same_thing(tmp_path: Path) -> None:
    report = Report("http://127.0.0.1:1", "seed.yaml", "seed-001", seed=7, seconds=1.5)
    for invariant in INVARIANTS:
        report.verdicts[invariant] = Verdict(invariant, PASSED, 3)
    report.verdicts["I3"] = Verdict("I3", FAILED, 2, findings=["I3 order_1: paid twice"],
                                    evidence=["failures/I3/steps.md"],
                                    caught_by="walk: duplicate webhooks", seconds_to_catch=0.4)
    report.verdicts["I7"] = Verdict("I7", NOT_APPLICABLE, reason="no email in this profile")
    files = report.write(tmp_path)
    assert report.exit_code == 1
    assert json.loads(files["json"].read_text())["exit_code"] == 1
    markdown = files["markdown"].read_text()
    assert "| I3 Webhook idempotency | **failed** | 2 |" in markdown
    assert "no email in this profile" in markdown
    assert "I3 order_1: paid twice" in files["html"].read_text()
    suite = ET.parse(files["junit"]).getroot()
    assert suite.get("tests") == str(len(INVARIANTS)) and suite.get("failures") == "1"
    assert suite.get("skipped") == "1"
    report.errors.append("cannot connect")
    assert report.exit_code == 2


def test_the_transport_keeps_no_cookies_between_calls() -> None:
    seen: list[str | None] = []

    def shop(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={}, headers={"set-cookie": "session=abc; Path=/"})

    transport = HttpxTransport("http://shop.test", transport=httpx.MockTransport(shop))
    first = transport.send(HttpCall("one", "GET", "/a"))
    transport.send(HttpCall("two", "GET", "/b"))
    assert first.headers["set-cookie"].startswith("session=abc")
    assert seen == [None, None]
