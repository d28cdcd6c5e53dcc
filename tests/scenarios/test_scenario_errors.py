"""Every problem names the file, the line and the field path, and says what was expected."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios import Problem, ScenarioError, ScenarioFileError, load_scenario
from tests.scenarios.conftest import MINIMAL, SEED_001, WriteScenario, line_of, minimal_with


def problems(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return list(caught.value.problems)


def test_minimal_scenario_is_valid(write_scenario: WriteScenario) -> None:
    scenario = load_scenario(write_scenario(MINIMAL))
    assert scenario.profile.name == "minimal"
    assert scenario.buyers.mix == "shopping"  # TPC-W's mixes by default
    assert scenario.buyers.mixes["browsing"].browse == 95


def test_typo_in_a_key_names_the_key_its_line_and_the_right_spelling(
    write_scenario: WriteScenario,
) -> None:
    text = MINIMAL.replace("    rate: 1.5", "    ratee: 1.5")
    path = write_scenario(text)
    found = problems(path)
    typo = next(p for p in found if p.field == "buyers.arrivals.ratee")
    assert typo.line == line_of(text, "ratee")
    assert "unknown key" in typo.message and "did you mean 'rate'?" in typo.message
    assert str(typo).startswith(f"{path}:{typo.line}: buyers.arrivals.ratee: unknown key")
    # The misspelt key leaves the real one missing, reported at its mapping's line.
    missing = next(p for p in found if p.field == "buyers.arrivals.rate")
    assert missing.line == line_of(text, "arrivals:")


def test_wrong_type_gives_line_and_field_path(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("quantity: 10}", "quantity: ten}")
    (problem,) = problems(write_scenario(text))
    assert problem.field == "catalog.stock[0].quantity"
    assert problem.line == line_of(text, "quantity: ten")
    assert problem.message == "expected a whole number, got 'ten'"


@pytest.mark.parametrize(("value", "message"), [
    ("0", "expected a number > 0, got 0"),
    ("-2", "expected a number > 0, got -2"),
    (".nan", "input should be a finite number"),
    (".inf", "input should be a finite number"),
])
def test_a_popularity_must_be_a_positive_finite_number(
    write_scenario: WriteScenario, value: str, message: str
) -> None:
    text = MINIMAL.replace("quantity: 10}", f"quantity: 10, popularity: {value}}}")
    (problem,) = problems(write_scenario(text))
    assert problem.field == "catalog.stock[0].popularity"
    assert problem.line == line_of(text, "popularity:")
    assert problem.message == message


@pytest.mark.parametrize(("client", "field", "message"), [
    ("{timeout: 0}", "timeout", "expected a number > 0, got 0"),
    ("{retries: 11}", "retries", "expected a number <= 10, got 11"),
    ("{retries: 1.5}", "retries", "expected a whole number, got 1.5"),
])
def test_the_gateway_clients_timeout_and_retries_are_checked(
    write_scenario: WriteScenario, client: str, field: str, message: str
) -> None:
    text = MINIMAL.replace("  name: minimal\n", f"  name: minimal\n  gateway_client: {client}\n")
    (problem,) = problems(write_scenario(text))
    assert problem.field == f"profile.gateway_client.{field}"
    assert problem.line == line_of(text, "gateway_client:")
    assert problem.message == message


def test_negative_rate_reads_as_the_format_says(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("rate: 1.5", "rate: -3")
    path = write_scenario(text, "flash.yaml")
    (problem,) = problems(path)
    assert str(problem) == (
        f"{path}:{line_of(text, 'rate: -3')}: buyers.arrivals.rate: expected a number >= 0, got -3"
    )


def test_bad_enum_value_lists_the_choices(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("stock_commit: reserve", "stock_commit: whenever")
    (problem,) = problems(write_scenario(text))
    assert problem.field == "profile.policies.stock_commit"
    assert "'at_order', 'on_payment' or 'reserve'" in problem.message
    assert "got 'whenever'" in problem.message


def test_distribution_parameters_are_checked_per_kind(write_scenario: WriteScenario) -> None:
    text = minimal_with(latency={"gateway": {"dist": "exponential", "mean": 0}})
    (problem,) = problems(write_scenario(text))
    assert problem.field == "latency.gateway.mean"  # no pydantic union tag in the path
    assert problem.message == "expected a number > 0, got 0"
    assert problem.line == line_of(text, "mean: 0")


def test_unknown_distribution_and_misspelt_parameter(write_scenario: WriteScenario) -> None:
    text = minimal_with(
        latency={
            "gateway": {"dist": "poisson", "mean": 1},
            "mail": {"dist": "lognormal", "median": 1, "sigmaa": 0.5},
        }
    )
    found = {p.field: p.message for p in problems(write_scenario(text))}
    dist = found["latency.gateway.dist"]
    assert "'fixed'" in dist and "'poisson'" in dist
    assert "did you mean 'sigma'?" in found["latency.mail.sigmaa"]


def test_uniform_bounds_in_order(write_scenario: WriteScenario) -> None:
    text = minimal_with(latency={"cart": {"dist": "uniform", "low": 2, "high": 1}})
    (problem,) = problems(write_scenario(text))
    assert problem.field == "latency.cart"
    assert problem.message == "low (2.0) must not exceed high (1.0)"


def test_several_problems_are_reported_together_in_file_order(
    write_scenario: WriteScenario,
) -> None:
    text = (
        MINIMAL.replace("currency: EUR", "currency: euro")
        .replace("price: 1000", "price: -1")
        .replace("duration: 600", "duration: 0")
    )
    found = problems(write_scenario(text))
    assert [p.field for p in found] == [
        "profile.policies.currency",
        "catalog.products[0].variants[0].price",
        "run.duration",
    ]
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_cross_field_problems_point_at_the_field_at_fault(write_scenario: WriteScenario) -> None:
    text = (
        MINIMAL.replace("    reservation_ttl: 600\n", "")
        .replace("{variant: widget, location: main", "{variant: widgit, location: attic")
        .replace("    rate: 1.5\n", "    rate: 1.5\n    bursts:\n      - {at: 700, buyers: 50}\n")
    )
    path = write_scenario(text)
    found = {p.field: p for p in problems(path)}
    assert "reserve needs reservation_ttl" in found["profile.policies.stock_commit"].message
    variant = found["catalog.stock[0].variant"]
    assert variant.message == "unknown variant 'widgit' (did you mean 'widget'?)"
    assert variant.line == line_of(text, "widgit")
    assert found["catalog.stock[0].location"].message == "unknown location 'attic'"
    burst = found["buyers.arrivals.bursts[0].at"]
    assert burst.message == "starts at 700.0 s, after the run ends (600.0 s)"
    assert burst.line == line_of(text, "at: 700")


@pytest.mark.parametrize(
    ("sections", "field", "words"),
    [
        (
            {"buyers": {"population": 5, "arrivals": {"rate": 1},
                        "funnel": {"add": 0.2, "checkout": 0.5}}},
            "buyers.funnel.checkout",
            "0.5 of buyers reach checkout but only 0.2 reach add",
        ),
        (
            {"buyers": {"population": 5, "arrivals": {"rate": 0}}},
            "buyers.arrivals.rate",
            "no buyers ever arrive",
        ),
        (
            {"buyers": {"population": 5, "arrivals": {"rate": 1}, "inactive_share": 0.1}},
            "buyers.inactive_share",
            "check_account",
        ),
        (
            {"buyers": {"population": 5, "arrivals": {"rate": 1}, "mix": "browse"}},
            "buyers.mix",
            "did you mean 'browsing'?",
        ),
        (
            {"buyers": {"population": 5, "arrivals": {"rate": 1}, "lines": {"max": 2}}},
            "buyers.lines.max",
            "the catalog has 1",
        ),
        (
            {"faults": {"gateway": {"outages": [{"start": 10, "end": 100},
                                                {"start": 50, "end": 200}]}}},
            "faults.gateway.outages[1]",
            "overlaps",
        ),
        (
            {"faults": {"gateway": {"decline_rate": 1.5}}},
            "faults.gateway.decline_rate",
            "expected a number <= 1, got 1.5",
        ),
        ({"run": {"duration": 60, "warmup": 60}}, "run.warmup", "shorter than the run"),
        ({"invariants": {"refunds_expected": True}}, "invariants.refunds_expected", "on_payment"),
        ({"invariants": {"check": ["I1", "I12"]}}, "invariants.check[1]", "'I11'"),
        ({"version": 2}, "version", "unsupported version 2"),
    ],
)
def test_cross_field_and_range_rules(
    write_scenario: WriteScenario, sections: dict[str, object], field: str, words: str
) -> None:
    found = {p.field: p.message for p in problems(write_scenario(minimal_with(**sections)))}
    assert field in found, found
    assert words in found[field]


def test_currencies_must_agree(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("{id: widget, price: 1000}", "{id: widget, price: 1000, currency: USD}")
    (problem,) = problems(write_scenario(text))
    assert problem.field == "catalog.products[0].variants[0].currency"
    assert problem.message == "USD differs from the profile currency EUR"


def test_synchronous_payment_has_no_webhooks(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("payment_mode: hosted_checkout", "payment_mode: synchronous")
    text += "faults:\n  webhook:\n    duplicate_rate: 0.5\n"
    found = {p.field: p.message for p in problems(write_scenario(text))}
    assert "synchronous payment has no webhooks" in found["profile.policies.webhook_dialect"]
    assert "synchronous payment has no webhooks" in found["faults.webhook"]


def test_duplicate_key_is_an_error_not_a_silent_override(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("  population: 10\n", "  population: 10\n  population: 20\n")
    (problem,) = problems(write_scenario(text))
    assert problem.field == "buyers.population"
    assert problem.line == line_of(text, "population: 20")
    assert "first given on line" in problem.message


def test_yaml_syntax_error_gives_file_and_line(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("  population: 10", "  population: [10")
    path = write_scenario(text)
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.file == str(path)
    assert error.line is not None and error.line >= line_of(text, "population: [10")
    assert error.message.startswith("not valid YAML")


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "got an empty file"), ("- a\n- b\n", "got a list"), ("just text\n", "got 'just text'")],
)
def test_not_a_mapping(write_scenario: WriteScenario, text: str, words: str) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(write_scenario(text))
    assert words in caught.value.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioFileError) as caught:
        load_scenario(tmp_path / "missing.yaml")
    assert caught.value.line is None
    assert "cannot read" in str(caught.value)


# --------------------------------------------------------------------------------------
# the diagram mapping, checked against the parsed diagram


BrokenSeed = Callable[[dict[str, str]], Path]


@pytest.fixture
def broken_seed(tmp_path: Path) -> BrokenSeed:
    """Seed 001's scenario with text replaced, beside a copy of its diagram."""
    (tmp_path / "diagrams").mkdir()
    diagram = SEED_001.parent / "diagrams" / "001_ba7600941ff57ff1.txt"
    shutil.copy(diagram, tmp_path / "diagrams" / diagram.name)

    def make(replacements: dict[str, str]) -> Path:
        text = SEED_001.read_text(encoding="utf-8")
        for old, new in replacements.items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / SEED_001.name
        path.write_text(text, encoding="utf-8")
        return path

    return make


def test_diagram_mapping_must_cover_the_diagram(broken_seed: BrokenSeed) -> None:
    path = broken_seed(
        {
            "    EmailService: Mail\n": "    EmailServic: Mail\n",
            "observable: [User, Frontend, Backend, PaymentGateway, EmailService]": (
                "observable: [User, Frontend, Backend, PaymentGateway]"
            ),
            "    Clear user's cart: clear_cart\n": "    Clear the cart: clear_cart\n",
        }
    )
    found = {p.field: p.message for p in problems(path)}
    assert found["diagram.participant_map"] == "unmapped participants: EmailService"
    assert "did you mean 'EmailService'?" in found["diagram.participant_map.EmailServic"]
    assert "messages without a name: \"Clear user's cart\" (line 57)" in found[
        "diagram.message_map"
    ]
    assert "not a message label" in found["diagram.message_map.Clear the cart"]


def test_a_message_left_out_must_say_why(broken_seed: BrokenSeed) -> None:
    path = broken_seed({"Completes payment: complete_payment": "Completes payment: null"})
    found = {p.field: p.message for p in problems(path)}
    assert "'Completes payment' (line 46)" in found["diagram.deviations"]


def test_unknown_message_name_and_actor(broken_seed: BrokenSeed) -> None:
    path = broken_seed(
        {
            "    Completes payment: complete_payment\n": "    Completes payment: pay_now\n",
            "    PaymentGateway: Gateway\n": "    PaymentGateway: Stripe\n",
        }
    )
    found = {p.field: p.message for p in problems(path)}
    assert "canonical message name" in found["diagram.message_map.Completes payment"]
    assert "'Gateway'" in found["diagram.participant_map.PaymentGateway"]


def test_missing_diagram_file(write_scenario: WriteScenario) -> None:
    text = minimal_with(diagram={"file": "nowhere.txt", "participant_map": {"A": "Buyer"}})
    (problem,) = problems(write_scenario(text))
    assert problem.field == "diagram.file"
    assert problem.message.startswith("no such file")
