"""The public surface: what sim, conformance and load read from a scenario."""

from __future__ import annotations

import numpy as np
import pytest

import scenarios
from reference_impl.domain.trace import Actor, MessageKind, Msg, TraceEvent
from scenarios import load_scenario
from scenarios.messages import ERROR_CODES, MESSAGE_NAMES
from scenarios.schema import Distribution, Exponential, Fixed, LogNormal, Normal, Uniform
from tests.scenarios.conftest import ALL_FILES, MINIMAL, SEED_001, WriteScenario, line_of


def test_public_surface_is_exactly_the_documented_one() -> None:
    assert sorted(scenarios.__all__) == [
        "FORMAT_VERSION",
        "Problem",
        "Scenario",
        "ScenarioError",
        "ScenarioFileError",
        "load_scenario",
    ]


def test_message_vocabulary_is_plain_names_and_error_codes() -> None:
    assert set(ERROR_CODES) <= set(MESSAGE_NAMES)
    assert all(name.islower() and " " not in name for name in MESSAGE_NAMES)
    assert len(MESSAGE_NAMES) == len(set(MESSAGE_NAMES))


def test_the_seeds_name_every_step_of_the_purchase_flow() -> None:
    used: set[str] = set()
    for path in ALL_FILES:
        scenario = load_scenario(path)
        if scenario.diagram:
            used |= {v for v in scenario.diagram.message_map.values() if v}
    assert used <= set(MESSAGE_NAMES)
    flow = {
        Msg.LIST_PRODUCTS, Msg.VIEW_PRODUCT, Msg.ADD_TO_CART, Msg.CREATE_ORDER,
        Msg.GET_PAYMENT_LINK, Msg.CREATE_CHECKOUT_SESSION, Msg.COMPLETE_PAYMENT, Msg.CHARGE,
        Msg.PAYMENT_WEBHOOK, Msg.SELL_STOCK, Msg.UPDATE_ORDER_STATUS, Msg.CLEAR_CART,
        Msg.SEND_CONFIRMATION, Msg.CHECK_ACCOUNT,
    }
    assert flow <= used


def test_error_keeps_file_line_and_field(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("population: 10", "population: 0")
    path = write_scenario(text)
    with pytest.raises(scenarios.ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    line = line_of(text, "population: 0")
    assert (error.file, error.line, error.field) == (str(path), line, "buyers.population")
    assert str(error) == f"{path}:{line}: buyers.population: expected a number >= 1, got 0"


def test_with_overrides_revalidates_for_sweeps(write_scenario: WriteScenario) -> None:
    base = load_scenario(write_scenario(MINIMAL))
    swept = base.with_overrides({"buyers.arrivals.rate": "4.5", "run.replications": 3})
    assert swept.buyers.arrivals.rate == 4.5
    assert swept.run.replications == 3
    assert swept.source == base.source
    assert base.buyers.arrivals.rate == 1.5  # unchanged
    with pytest.raises(ValueError, match="reserve needs reservation_ttl"):
        base.with_overrides({"profile.policies.reservation_ttl": None})


def test_distributions_have_means_and_sample_from_numpy() -> None:
    rng = np.random.default_rng(1)
    dists: list[Distribution] = [
        Fixed(dist="fixed", value=2),
        Uniform(dist="uniform", low=1, high=3),
        Exponential(dist="exponential", mean=2),
        LogNormal(dist="lognormal", median=2 / np.exp(0.125), sigma=0.5),
        Normal(dist="normal", mean=2, stddev=0.1),
    ]
    for dist in dists:
        assert dist.mean == pytest.approx(2)
        samples = [dist.sample(rng) for _ in range(4000)]
        assert min(samples) >= 0
        assert np.mean(samples) == pytest.approx(2, rel=0.1), dist.dist


def test_applicable_invariants_follow_the_profile(write_scenario: WriteScenario) -> None:
    hosted = load_scenario(write_scenario(MINIMAL))
    assert "I3" in hosted.applicable_invariants()
    assert "I7" not in hosted.applicable_invariants()  # no email, cart kept
    assert not hosted.refunds_expected()
    sync = hosted.with_overrides(
        {"profile.policies.payment_mode": "synchronous", "profile.policies.webhook_dialect": None}
    )
    assert not {"I3", "I4", "I5"} & set(sync.invariants_to_check())
    assert sync.policies().webhook_dialect == "generic"  # never used without webhooks


# --------------------------------------------------------------------------------------
# traces against the seed's diagram, through the scenario's own mapping


def events(*specs: str) -> list[TraceEvent]:
    out = []
    for i, spec in enumerate(specs):
        ends, message = spec.split(":")
        source, target = ends.split(">")
        out.append(TraceEvent(source, target, message, "order-1", float(i), MessageKind.SYNC))
    return out


BOUNDARY_001 = [
    "Buyer>Storefront:create_order",
    "Storefront>Gateway:create_checkout_session",
    "Gateway>Storefront:create_checkout_session",
    "Storefront>Buyer:create_order",
    "Buyer>Gateway:complete_payment",
    "Gateway>Buyer:complete_payment",
    "Gateway>Storefront:payment_webhook",
]


def test_seed_001_black_box_happy_and_failed_payment() -> None:
    scenario = load_scenario(SEED_001)
    paid = events(
        *BOUNDARY_001,
        "Storefront>Mail:send_confirmation",
        "Mail>Buyer:send_confirmation",
        "Storefront>Gateway:payment_webhook",
    )
    verdict = scenario.check_trace(paid, black_box=True)
    assert verdict.ok, verdict.reason
    failed = events(*BOUNDARY_001, "Storefront>Gateway:payment_webhook")
    assert scenario.check_trace(failed, black_box=True).ok
    rejected = events("Buyer>Storefront:create_order", "Storefront>Buyer:items_unavailable")
    assert scenario.check_trace(rejected, black_box=True, complete=False).ok


def test_a_late_deviation_lets_its_message_come_later_but_not_earlier() -> None:
    # Seed 001's email leaves through an outbox: the mail sink may get it after the 200 OK.
    scenario = load_scenario(SEED_001)
    assert scenario.diagram is not None
    acknowledged_first = events(
        *BOUNDARY_001, "Storefront>Gateway:payment_webhook", "Storefront>Mail:send_confirmation"
    )
    assert scenario.check_trace(acknowledged_first, black_box=True).ok
    before_the_webhook = events(
        *BOUNDARY_001[:-1], "Storefront>Mail:send_confirmation", BOUNDARY_001[-1],
        "Storefront>Gateway:payment_webhook",
    )
    early = scenario.check_trace(before_the_webhook, black_box=True)
    assert early.reason.endswith("saw #7 Storefront -> Mail: send_confirmation")
    (index,) = (
        i for i, d in enumerate(scenario.diagram.deviations)
        if d.message == "Request to send order confirmation email"
    )
    assert scenario.diagram.deviations[index].late
    on_time = scenario.with_overrides({f"diagram.deviations.{index}.late": False})
    assert on_time.check_trace(acknowledged_first, black_box=True).reason == (
        "unexpected extra message #9 Storefront -> Mail: send_confirmation "
        "after #8 Storefront -> Gateway: payment_webhook: the diagram ends there"
    )


def test_seed_001_black_box_names_the_place_it_breaks() -> None:
    scenario = load_scenario(SEED_001)
    no_session = events("Buyer>Storefront:create_order", "Storefront>Buyer:create_order")
    verdict = scenario.check_trace(no_session, black_box=True)
    assert not verdict.ok
    assert "create_checkout_session" in verdict.reason
    assert "saw #2 Storefront -> Buyer: create_order" in verdict.reason


def test_full_trace_is_folded_as_the_diagram_draws_the_shop() -> None:
    scenario = load_scenario(SEED_001)
    assert scenario.diagram is not None
    trace = events("Orders>Database:save_order", "Payments>Gateway:create_checkout_session")
    folded = scenario.diagram.fold(trace)
    assert [(e.source, e.target) for e in folded] == [
        ("Storefront", "Database"),
        ("Storefront", "Gateway"),
    ]
    boundary = scenario.diagram.fold(trace, black_box=True)
    assert [(e.source, e.target) for e in boundary] == [
        ("Storefront", "Storefront"),
        ("Storefront", "Gateway"),
    ]
    assert scenario.diagram.black_box_participant_map()["Database"] == Actor.STOREFRONT
    assert scenario.diagram.black_box_participant_map()["EmailService"] == Actor.MAIL


def test_a_scenario_without_diagram_cannot_check_traces(write_scenario: WriteScenario) -> None:
    scenario = load_scenario(write_scenario(MINIMAL))
    with pytest.raises(ValueError, match="no diagram"):
        scenario.check_trace([])
