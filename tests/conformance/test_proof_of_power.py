"""Proof of power: every deliberately broken shop is caught within the default budget, and
the report names the invariant it breaks (issue 6). Each runs the default suite with
``fail_fast``, so the time measured is the time to the first failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.suite import run_suite
from tests.conformance.broken_shops import BROKEN_SHOPS, BrokenShop
from tests.conformance.conftest import TargetFactory
from tests.conformance.shops import WEBHOOK_SECRET, seed


@pytest.mark.parametrize("shop", BROKEN_SHOPS, ids=lambda s: s.name.replace(" ", "-"))
def test_broken_shop_is_caught_with_the_right_invariant(
    shop: BrokenShop, make_target: TargetFactory, gateway: GatewayDouble, mail: MailSink,
    tmp_path: Path, record_property: pytest.RecordProperty,
) -> None:
    with make_target(seed(shop.seed), build=shop.build) as target:
        report = run_suite(target.adapter, target.scenario, webhook_secret=WEBHOOK_SECRET,
                           gateway=gateway, mailbox=mail, via_gateway=False, fail_fast=True,
                           report_dir=tmp_path / "report", target_name=f"broken: {shop.name}")
    first = report.first_failure
    assert report.errors == []
    assert first is not None, f"{shop.name} was not caught: {report.summary_line()}"
    assert first.invariant == shop.invariant, (shop.name, first.findings)
    assert report.exit_code == 1
    record_property("caught_by", first.caught_by)
    record_property("seconds_to_catch", first.seconds_to_catch)
    # The evidence the report points at exists: a minimal sequence and its replay script,
    # a race's history, or Schemathesis' reproduction.
    for evidence in first.evidence:
        assert (tmp_path / "report" / evidence).is_file(), evidence
    assert f"{shop.invariant} " in (tmp_path / "report" / "junit.xml").read_text()
