"""Real, short Locust runs (issue 7's proof): ``purchaseflow load`` in a subprocess against
the reference implementation and the doubles, each run a few seconds of load.

* a run that passes: the audit holds, Locust's HTML and CSV reports exist, exit 0, and the
  buyers turned away for lack of stock are successes under their own request name;
* a threshold that breaks fails the run (exit 1);
* a broken shop (two confirmation emails per order), reached through a user-supplied
  adapter and doubles that were already running: the audit names I7 (exit 3);
* a shop with another API (the session-cookie shop of ``tests/conformance``), reached and
  read through its adapter: the audit holds;
* ``--processes 2`` with an open workload: arrivals dispatched across two workers;
* the locustfile on its own (``run_single_user``).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from conformance.adapters import CanonicalAdapter
from conformance.doubles._serving import ServerThread
from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from load.config import CONFIG_ENV, LoadConfig
from load.locust_process import LOCUSTFILE
from scenarios import Scenario, load_scenario
from scenarios.catalog_setup import shop_setup
from tests.conformance import shops as conformance_shops
from tests.conformance.session_adapter import SessionShopAdapter
from tests.conformance.session_shop import create_session_shop
from tests.load.broken_shop import broken_shop_app
from tests.load.conftest import (
    ADMIN_TOKEN,
    SCENARIO,
    WEBHOOK_SECRET,
    LoadRun,
    SharedShop,
    run_load,
)
from tests.load.lossy_shop import lossy_shop

pytestmark = pytest.mark.slow


def test_a_run_against_the_reference_shop_passes_its_audit(
        shared_shop: SharedShop, tmp_path: Path) -> None:
    run = run_load(*shared_shop.args(), "--run-time", "5",
                   "--threshold", "create_order:p95<5s", out=tmp_path)
    assert run.returncode == 0, run.explain()
    summary = run.summary
    audit = summary["audit"]
    assert audit["ok"] and audit["checked"] == ["I1", "I2", "I7", "I9", "I11"], audit
    assert audit["orders"].get("paid", 0) > 0 and audit["emails"] == audit["orders"]["paid"]
    assert summary["metrics"]["sessions"]["order"].get("paid", 0) > 0
    for step in ("list_products", "view_product", "add_to_cart", "create_order",
                 "complete_payment", "view_order"):
        assert summary["steps"][step]["requests"] > 0, step
    assert summary["steps"]["all"]["failed"] == 0
    # Locust's own reports.
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
    with (tmp_path / "locust_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    # Six posters for eight buyers: some are turned away, a success under its own name.
    refused = rows["add_to_cart [insufficient_inventory]"]
    assert int(refused["Request Count"]) > 0 and int(refused["Failure Count"]) == 0
    assert "PASSED" in run.stdout and "insufficient_inventory" in run.stdout


def test_a_broken_threshold_fails_the_run(shared_shop: SharedShop, tmp_path: Path) -> None:
    run = run_load(*shared_shop.args(), "--run-time", "2",
                   "--threshold", "list_products:p50<0.001ms", out=tmp_path)
    assert run.returncode == 1, run.explain()
    assert "thresholds broken: list_products:p50<0.001ms" in run.stdout
    assert run.summary["audit"]["ok"]


def run_through_adapter(
        tmp_path: Path, adapter: str, webhook_path: str,
        build: Callable[[Scenario, GatewayDouble, MailSink], Any], *options: str) -> LoadRun:
    """Serve ``build``'s shop on loopback beside doubles that are already running, and load
    it for a few seconds through the user-supplied ``adapter`` (MODULE:CLASS)."""
    scenario = load_scenario(SCENARIO)
    with GatewayDouble(secret=conformance_shops.WEBHOOK_SECRET) as gateway, MailSink() as sink:
        server = ServerThread(build(scenario, gateway, sink), name="shop-under-load")
        server.start()
        try:
            gateway.configure_webhook(url=f"{server.url}{webhook_path}",
                                      secret=conformance_shops.WEBHOOK_SECRET,
                                      dialect=scenario.policies().webhook_dialect)
            return run_load("--url", server.url, "--adapter", adapter,
                            "--admin-token", conformance_shops.ADMIN_TOKEN,
                            "--gateway-url", gateway.url, "--mailsink-url", sink.http_url,
                            "--run-time", "4", *options, out=tmp_path / "out")
        finally:
            server.stop()


def test_a_shop_that_sends_two_emails_fails_the_audit(tmp_path: Path) -> None:
    run = run_through_adapter(
        tmp_path, "tests.load.prefixed_adapter:ShopUnderPrefix", "/shop/payments/webhook",
        lambda scenario, gateway, sink: broken_shop_app(
            scenario, database=tmp_path / "shop.db", gateway=gateway, sink=sink))
    assert run.returncode == 3, run.explain()
    findings = run.summary["audit"]["findings"]
    assert findings and {f["invariant"] for f in findings} == {"I7"}
    assert "2 confirmation emails for a paid order" in findings[0]["message"]
    assert "invariants broken: I7" in run.stdout
    # The users reached the shop through the user's adapter: every step under /shop.
    assert run.summary["steps"]["create_order"]["requests"] > 0


def test_checkouts_whose_answer_was_lost_are_retried_and_make_one_order(
        tmp_path: Path) -> None:
    """The first answer to every checkout is lost after the shop made the order: each
    buyer sends it again under the same Idempotency-Key and gets that order back."""
    run = run_through_adapter(
        tmp_path, "conformance.adapters:CanonicalAdapter", "/payments/webhook",
        lambda scenario, gateway, sink: lossy_shop(
            scenario, database=tmp_path / "shop.db", gateway=gateway, sink=sink),
        "--retries", "2", "--retry-backoff", "0.05", "--threshold", "failures<100%")
    assert run.returncode == 0, run.explain()
    summary = run.summary
    assert summary["lossy_link"] is None  # the loss is the shop's here, not the run's link
    retries = summary["metrics"]["retries"]
    assert retries["sent"] > 0 and retries == {
        "sent": retries["sent"], "recovered": retries["sent"], "ran_out": 0}
    # The lost answers are failures of their requests, counted as such.
    create_order = summary["steps"]["create_order"]
    assert create_order["failed"] == retries["sent"]
    # And no retry made an order of its own: no cart has two (I9).
    audit = summary["audit"]
    assert audit["ok"] and "I9" in audit["checked"], audit
    assert sum(audit["orders"].values()) > 0
    assert "checkouts retried (same Idempotency-Key)" in run.stdout


def test_a_lossy_link_drops_answers_and_the_retries_recover_every_checkout(
        shared_shop: SharedShop, tmp_path: Path) -> None:
    """``--lose-answers``: the run relays the users through a link that drops a share of
    the shop's answers to keyed requests (checkouts); every dropped answer is retried."""
    run = run_load(*shared_shop.args(), "--run-time", "4", "--lose-answers", "0.3",
                   "--retries", "10", "--retry-backoff", "0.05",
                   "--threshold", "failures<100%", out=tmp_path)
    assert run.returncode == 0, run.explain()
    lost = re.search(r"lossy link: (\d+) answers lost", run.stdout)
    assert lost, run.stdout
    link = run.summary["lossy_link"]
    assert link == {"share": 0.3, "lost": int(lost.group(1))}
    retries = run.summary["metrics"]["retries"]
    # Only checkouts carry a key; each lost answer was sent again, none in vain.
    assert link["lost"] == retries["sent"] > 0 and retries["ran_out"] == 0
    assert run.summary["steps"]["create_order"]["failed"] == retries["sent"]
    for step in ("list_products", "add_to_cart", "complete_payment"):
        assert run.summary["steps"][step]["failed"] == 0, step
    audit = run.summary["audit"]
    assert audit["ok"] and "I9" in audit["checked"], audit


def test_a_shop_that_ignores_the_idempotency_key_makes_a_second_order_on_retry(
        tmp_path: Path) -> None:
    run = run_through_adapter(
        tmp_path, "conformance.adapters:CanonicalAdapter", "/payments/webhook",
        lambda scenario, gateway, sink: lossy_shop(
            scenario, database=tmp_path / "shop.db", gateway=gateway, sink=sink,
            forget_keys=True),
        "--retries", "1", "--retry-backoff", "0.05", "--threshold", "failures<100%")
    assert run.returncode == 3, run.explain()
    findings = run.summary["audit"]["findings"]
    assert findings and {f["invariant"] for f in findings} == {"I9"}, findings
    assert "2 orders from one checkout" in findings[0]["message"]
    assert "invariants broken: I9" in run.stdout


def test_a_shop_with_another_api_is_loaded_and_read_through_its_adapter(
        tmp_path: Path) -> None:
    """Other paths and field names, a session cookie instead of a bearer token: the users
    reach the shop through its adapter's calls and read every answer through its ``read``
    (the cart's id, refusals), as the conformance suite does."""
    run = run_through_adapter(
        tmp_path, "tests.conformance.session_adapter:SessionShopAdapter",
        SessionShopAdapter.webhook_path,
        lambda scenario, gateway, sink: create_session_shop(conformance_shops.settings_for(
            scenario, f"sqlite:///{tmp_path / 'session.db'}", gateway, sink)))
    assert run.returncode == 0, run.explain()
    summary = run.summary
    assert summary["audit"]["ok"], summary["audit"]
    assert summary["audit"]["orders"].get("paid", 0) > 0
    assert summary["steps"]["all"]["failed"] == 0
    assert summary["steps"]["create_order"]["requests"] > 0
    # Six posters for eight buyers: refusals, read through the adapter, under their name.
    assert summary["steps"]["add_to_cart"]["refused"].get("insufficient_inventory", 0) > 0
    # No catalog pages in that shop: the browse and view steps are skipped, not failed.
    assert "list_products" not in summary["steps"] and "view_product" not in summary["steps"]


def test_the_reference_shop_runs_on_the_database_given(
        postgres_url: str, tmp_path: Path) -> None:
    """``--reference --shop-database-url``: the run's shop on PostgreSQL (2 workers), reset
    and loaded by the run, audited after it; the orders are in that database."""
    run = run_load("--reference", "--shop-database-url", postgres_url, "--shop-workers", "2",
                   "--gateway-port", "0", "--smtp-port", "0", "--run-time", "4", out=tmp_path)
    assert run.returncode == 0, run.explain()
    audit = run.summary["audit"]
    assert audit["ok"] and audit["orders"].get("paid", 0) > 0, audit
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
    finally:
        engine.dispose()
    assert stored == sum(audit["orders"].values())


def test_processes_share_an_open_workload(tmp_path: Path) -> None:
    run = run_load("--reference", "--gateway-port", "0", "--smtp-port", "0",
                   "--processes", "2", "--arrival-rate", "15", "--users", "6",
                   "--run-time", "5", out=tmp_path)
    assert run.returncode == 0, run.explain()
    metrics = run.summary["metrics"]
    assert metrics["processes"] == 3  # the master and two workers
    arrivals = metrics["arrivals"]
    # 15/s for 5 s, split over two Poisson streams: about 75.
    assert 40 <= arrivals["scheduled"] <= 115, arrivals
    assert arrivals["started"] + arrivals["dropped"] <= arrivals["scheduled"]
    assert run.summary["audit"]["ok"]
    assert "open workload:" in run.stdout


def test_the_locustfile_runs_on_its_own(shared_shop: SharedShop, tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO)
    adapter = CanonicalAdapter(shared_shop.shop.url, admin_token=ADMIN_TOKEN)
    adapter.reset()
    adapter.set_up(shop_setup(scenario))
    config = LoadConfig(url=shared_shop.shop.url, scenario=str(SCENARIO),
                        admin_token=ADMIN_TOKEN,
                        gateway_url=f"http://127.0.0.1:{shared_shop.gateway_port}",
                        think_scale=0, buyers=("alice",), max_sessions=3)
    path = config.write(tmp_path / "config.json")
    with GatewayDouble(secret=WEBHOOK_SECRET, port=shared_shop.gateway_port) as gateway:
        gateway.configure_webhook(f"{shared_shop.shop.url}/payments/webhook")
        done = subprocess.run([sys.executable, str(LOCUSTFILE)], capture_output=True,
                              text=True, timeout=60, env={**os.environ, CONFIG_ENV: str(path)})
    adapter.close()
    assert done.returncode == 0, done.stdout + done.stderr
    # run_single_user prints every request: three sessions, each starting with a browse.
    assert done.stdout.count("list_products") >= 1, done.stdout
