"""Every shipped scenario validates, agrees with the JSON Schema, and each seed scenario
follows its own diagram (the key policies per seed, DESIGN.md section 1)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

from reference_impl.domain.policies import PaymentMode, StockCommitPoint, WebhookDialect
from scenarios import Scenario, load_scenario
from scenarios.jsonschema_export import SCHEMA_PATH, render_json_schema
from tests.scenarios.conftest import ALL_FILES, LIBRARY_FILES, SCENARIOS, SEED_FILES


def seed(number: str) -> Scenario:
    (path,) = [p for p in SEED_FILES if p.name.startswith(f"seed_{number}_")]
    return load_scenario(path)


def test_there_is_one_scenario_per_seed_and_the_library_is_complete() -> None:
    assert [p.name[:8] for p in SEED_FILES] == [f"seed_00{n}" for n in range(5)]
    names = {p.stem for p in LIBRARY_FILES}
    assert {
        "flash_sale_at_order",
        "flash_sale_on_payment",
        "flash_sale_reserve",
        "gateway_outage",
        "webhook_storm",
        "steady_mix",
    } <= names


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_shipped_scenario_validates(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.source == path.resolve()
    scenario.policies()  # the domain accepts the policies too


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_shipped_scenario_names_the_json_schema_for_editors(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = first.split("$schema=", 1)[1]
    assert (path.parent / target).resolve() == SCHEMA_PATH


def test_json_schema_accepts_every_shipped_scenario() -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text()))
    for path in ALL_FILES:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path.name


def test_committed_json_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_json_schema(), (
        "scenarios/scenario.schema.json is stale: run python -m scenarios.jsonschema_export"
    )


def test_profile_names_are_unique() -> None:
    names = [load_scenario(p).profile.name for p in ALL_FILES]
    assert len(names) == len(set(names))


def test_seed_diagrams_sit_beside_the_seed_scenarios() -> None:
    for path in SEED_FILES:
        scenario = load_scenario(path)
        diagram = scenario.diagram_path()
        assert diagram is not None and diagram.is_file()
        assert diagram.parent == SCENARIOS / "seeds" / "diagrams"
        assert diagram.name.startswith(scenario.profile.seed or "none")


def test_seed_000_stock_at_order_account_check_link_fetched_later() -> None:
    s = seed("000")
    p = s.policies()
    assert p.stock_commit is StockCommitPoint.AT_ORDER
    assert p.payment_mode is PaymentMode.HOSTED_CHECKOUT
    assert p.check_account
    assert s.profile.exposes.checkout_link == "fetched_later"
    assert s.profile.status_vocabulary == {
        "Processing": "pending_payment",
        "Active": "pending_payment",
        "Confirmed": "paid",
    }
    assert s.profile.status_label("pending_payment") == "Active"
    assert any(not u.active for u in s.catalog.users)


def test_seed_001_jwt_stock_after_payment_cart_cleared_email() -> None:
    s = seed("001")
    p = s.policies()
    assert p.stock_commit is StockCommitPoint.ON_PAYMENT
    assert p.payment_mode is PaymentMode.HOSTED_CHECKOUT
    assert p.webhook_dialect is WebhookDialect.GENERIC
    assert p.clear_cart_on_payment and p.send_confirmation_email
    assert s.profile.requires_auth
    assert s.refunds_expected()  # on_payment can oversell: refunds, not an I1 violation
    assert s.profile.status_label("paid") == "Processing"
    assert s.diagram is not None
    assert "items_unavailable" in s.diagram.message_map.values()  # the 409


def test_seed_002_synchronous_variants_and_several_locations() -> None:
    s = seed("002")
    assert s.policies().payment_mode is PaymentMode.SYNCHRONOUS
    assert s.profile.exposes.variants and s.profile.exposes.locations
    assert any(len(product.variants) > 1 for product in s.catalog.products)
    assert len(s.catalog.locations) > 1
    stock = s.catalog.stock
    assert any(s.catalog.stock_of(e.variant) > e.quantity for e in stock)  # at two locations
    assert any(not v.deliverable for _, v in s.catalog.variants())
    # No webhooks: the webhook invariants do not apply.
    assert not {"I3", "I4", "I5"} & set(s.invariants_to_check())


def test_seed_003_synchronous_browse_view_session_cart() -> None:
    s = seed("003")
    assert s.policies().payment_mode is PaymentMode.SYNCHRONOUS
    assert s.profile.exposes.browse and s.profile.exposes.view
    assert s.profile.exposes.cart_in_session
    assert s.diagram is not None
    assert {"list_products", "view_product"} <= set(s.diagram.message_map.values())


def test_seed_004_stripe_dialect() -> None:
    s = seed("004")
    p = s.policies()
    assert p.webhook_dialect is WebhookDialect.STRIPE
    assert p.payment_mode is PaymentMode.HOSTED_CHECKOUT
    assert s.profile.status_vocabulary == {
        "pending": "pending_payment",
        "completed": "paid",
        "failed": "payment_failed",
    }


def test_flash_sales_differ_only_in_the_stock_policy() -> None:
    dumps = set()
    for policy in StockCommitPoint:
        scenario = load_scenario(SCENARIOS / "library" / f"flash_sale_{policy.value}.yaml")
        assert scenario.policies().stock_commit is policy
        assert scenario.catalog.stock_of("console-le") == 100
        assert scenario.buyers.arrivals.bursts
        data = scenario.model_dump(exclude={"profile": {"name", "policies"}, "description": True})
        policies = scenario.profile.policies.model_dump(exclude={"stock_commit"})
        dumps.add(json.dumps([data, policies], sort_keys=True, default=str))
    assert len(dumps) == 1


def test_library_covers_outage_storm_and_mix() -> None:
    outage = load_scenario(SCENARIOS / "library" / "gateway_outage.yaml")
    assert outage.faults.gateway.outages
    storm = load_scenario(SCENARIOS / "library" / "webhook_storm.yaml")
    assert storm.faults.webhook is not None
    assert storm.faults.webhook.duplicate_rate > 0 and storm.faults.webhook.reorder_rate > 0
    assert storm.faults.webhook.delay is not None
    mix = load_scenario(SCENARIOS / "library" / "steady_mix.yaml")
    assert set(mix.buyers.mixes) == {"browsing", "shopping", "ordering"}
