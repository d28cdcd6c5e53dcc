"""The reference implementation passes with zero findings in every seed profile, in
process; once over a real socket with the real doubles (the gateway delivering its own
webhooks); and the expiry race runs when the TTL is short enough to wait out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.check_options import CheckConfig
from conformance.check_run import run_check
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.reference_shop import ReferenceShop, free_port
from conformance.report import FAILED, PASSED
from conformance.suite import run_suite
from scenarios import load_scenario
from tests.conformance.conftest import TargetFactory
from tests.conformance.shops import ADMIN_TOKEN, JWT_SECRET, SEEDS, WEBHOOK_SECRET, seed

#: Small budgets keep the tests short; the benchmark times the default one.
BUDGET = 10.0


@pytest.fixture
def shop_errors_shown() -> Iterator[None]:
    """The reference shop's own error log, which conftest silences for the broken shops:
    a 5xx from the reference is a defect, and its traceback is the way to it."""
    logging.getLogger("purchaseflow.http").disabled = False
    yield


@pytest.mark.usefixtures("shop_errors_shown")
@pytest.mark.parametrize("scenario_path", SEEDS, ids=lambda p: p.stem)
def test_reference_has_no_findings_in_process(
    scenario_path: Path, make_target: TargetFactory, gateway: GatewayDouble, mail: MailSink,
    tmp_path: Path,
) -> None:
    with make_target(scenario_path) as target:
        report = run_suite(target.adapter, target.scenario, webhook_secret=WEBHOOK_SECRET,
                           gateway=gateway, mailbox=mail, via_gateway=False, budget=BUDGET,
                           seed=1, report_dir=tmp_path)
    assert report.errors == []
    findings = (tmp_path / "schema" / "findings.json")
    assert report.failed == [], (
        report.summary_line() + "\n" + (findings.read_text() if findings.exists() else "")
    )
    assert report.exit_code == 0
    applicable = set(target.scenario.invariants_to_check()) | {"C1", "C2", "C3", "C4"}
    for invariant in applicable:
        assert report.verdicts[invariant].status == PASSED, report.verdicts[invariant]
        assert report.verdicts[invariant].examples > 0
    assert json.loads((tmp_path / "report.json").read_text())["exit_code"] == 0


def test_reference_over_a_socket_with_the_real_doubles(tmp_path: Path) -> None:
    """``purchaseflow serve`` in a subprocess, the gateway double delivering its own
    webhooks, a 3 s reservation TTL so that the expiry race and I11 are exercised."""
    scenario = seed("004")
    gateway_port, smtp_port = free_port(), free_port()
    with ReferenceShop(scenario=str(scenario), admin_token=ADMIN_TOKEN, jwt_secret=JWT_SECRET,
                       webhook_secret=WEBHOOK_SECRET, reservation_ttl=3, worker_poll=0.1,
                       gateway_url=f"http://127.0.0.1:{gateway_port}",
                       smtp_port=smtp_port) as shop:
        # The profile the shop runs: seed 004 with the short TTL (the diagram is not needed).
        short = load_scenario(scenario).with_overrides({"profile.policies.reservation_ttl": 3})
        (tmp_path / "short.yaml").write_text(json.dumps(short.model_dump(
            mode="json", exclude_unset=True, exclude={"diagram"})))
        report = run_check(CheckConfig(
            url=shop.url, scenario=str(tmp_path / "short.yaml"), admin_token=ADMIN_TOKEN,
            webhook_secret=WEBHOOK_SECRET, gateway_port=gateway_port, smtp_port=smtp_port,
            budget=BUDGET, seed=2, report_dir=str(tmp_path / "report"),
            phases="walks,races,schema"))
    assert report.errors == []
    assert report.failed == [], report.summary_line()
    races = next(p for p in report.phases if p["name"] == "races")
    expiry = next(d for d in races["details"] if d.startswith("payment against"))
    assert "skipped" not in expiry, expiry
    assert report.verdicts["I11"].status == PASSED
    assert report.verdicts["I11"].reason is None
    assert (tmp_path / "report" / "histories" / "payment-against-reservation-expiry.jsonl"
            ).is_file()


def test_verdicts_name_every_invariant_even_when_not_applicable(
    make_target: TargetFactory, gateway: GatewayDouble, mail: MailSink,
) -> None:
    with make_target(seed("002")) as target:
        report = run_suite(target.adapter, target.scenario, webhook_secret=WEBHOOK_SECRET,
                           gateway=gateway, mailbox=mail, via_gateway=False,
                           phases=["walks"], only=["I1", "I3", "I8"])
    assert list(report.verdicts) == [f"I{i}" for i in range(1, 12)] + ["C1", "C2", "C3", "C4"]
    assert report.verdicts["I3"].reason == "synchronous payment: the profile has no webhooks"
    assert report.verdicts["I2"].reason == "not selected (--only)"
    assert {v.status for v in report.verdicts.values()} <= {PASSED, "not applicable"}
    assert FAILED not in {v.status for v in report.verdicts.values()}
