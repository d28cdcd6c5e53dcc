"""The adapter interface, proven by a second adapter for a shop shaped differently
(session cookie, other paths and field names): the same suite runs against it, clean; and
the same bug in that shop is caught there too."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from conformance.adapters import InProcessTransport
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.report import PASSED
from conformance.suite import run_suite
from reference_impl.config import Settings
from scenarios import load_scenario
from tests.conformance.session_adapter import SessionShopAdapter
from tests.conformance.session_shop import create_session_shop
from tests.conformance.shops import ADMIN_TOKEN, WEBHOOK_SECRET, seed, settings_for


@contextmanager
def session_shop(tmp_path: Path, gateway: GatewayDouble, mail: MailSink, prefix: str,
                 build: Any = create_session_shop) -> Iterator[SessionShopAdapter]:
    scenario = load_scenario(seed(prefix))
    app = build(settings_for(scenario, f"sqlite:///{tmp_path / 'session.db'}", gateway, mail))
    transport = InProcessTransport(app)
    adapter = SessionShopAdapter(transport.base_url, admin_token=ADMIN_TOKEN,
                                 transport=transport)
    try:
        yield adapter
    finally:
        adapter.close()


def test_the_suite_runs_clean_against_the_session_shop(
    tmp_path: Path, gateway: GatewayDouble, mail: MailSink,
) -> None:
    with session_shop(tmp_path, gateway, mail, "001") as adapter:
        report = run_suite(adapter, seed("001"), webhook_secret=WEBHOOK_SECRET,
                           gateway=gateway, mailbox=mail, via_gateway=False, budget=10,
                           seed=3, report_dir=tmp_path / "report")
    assert report.errors == [] and report.failed == [], report.summary_line()
    assert all(v.status == PASSED for v in report.verdicts.values()), report.summary_line()
    # Its own document was checked, not the canonical one.
    schema = next(p for p in report.phases if p["name"].startswith("schema"))
    assert schema["document"] == "/openapi.json" and schema["test cases"] > 0


def _leaky_purchases(settings: Settings) -> FastAPI:
    """The session shop with the other-buyer bug: purchases are read by id alone."""
    from tests.conformance.broken_shops import replace_endpoint
    from tests.conformance.session_shop import Purchase, _purchase

    app = create_session_shop(settings)
    runtime = app.state.runtime
    original = next(r for r in app.router.routes if getattr(r, "path", "") ==
                    "/shop/purchases/{purchase_id}")

    @functools.wraps(original.endpoint)
    def endpoint(purchase_id: str, user: str) -> Purchase:
        uow = runtime.uow_factory()
        with uow:
            order = uow.orders.get(purchase_id)
        if order is None:
            from reference_impl.domain.errors import NotFound

            raise NotFound(purchase_id)
        return _purchase(order)

    replace_endpoint(app, "GET", "/shop/purchases/{purchase_id}", endpoint)
    return app


def test_a_bug_in_the_session_shop_is_caught_through_its_adapter(
    tmp_path: Path, gateway: GatewayDouble, mail: MailSink,
) -> None:
    with session_shop(tmp_path, gateway, mail, "003", build=_leaky_purchases) as adapter:
        report = run_suite(adapter, seed("003"), webhook_secret=WEBHOOK_SECRET,
                           gateway=gateway, mailbox=mail, via_gateway=False, fail_fast=True)
    assert report.first_failure is not None and report.first_failure.invariant == "I8"
