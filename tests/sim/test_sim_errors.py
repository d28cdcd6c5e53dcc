"""Bad scenarios and impossible parameters are refused before anything runs, in one line."""

from __future__ import annotations

import pytest

from sim import Experiment, SimulationError, parse_axis, run_experiment
from sim.feasibility import offered_load, require_steady_state
from tests.sim.conftest import library_scenario, seed_scenario, small_flash_sale


def _refused(experiment_args: dict[str, object], match: str) -> str:
    with pytest.raises(SimulationError, match=match) as caught:
        run_experiment(Experiment(**experiment_args))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_negative_rate_in_a_sweep() -> None:
    message = _refused(
        {"scenario": small_flash_sale(), "axes": [parse_axis("rate=1,-2")]},
        "greater than or equal to 0",
    )
    assert message.startswith("--sweep buyers.arrivals.rate=-2: buyers.arrivals.rate:")


def test_a_value_the_schema_refuses_with_its_own_words() -> None:
    _refused({"scenario": small_flash_sale(), "compare": parse_axis("stock_commit=at_order,later",
                                                                      "--compare")},
             "--compare profile.policies.stock_commit=later")


def test_reserve_without_a_ttl_is_inconsistent() -> None:
    scenario = seed_scenario("002")  # on_payment, no reservation_ttl
    _refused({"scenario": scenario, "compare": parse_axis("stock_commit=on_payment,reserve")},
             "reserve needs reservation_ttl")


def test_an_unknown_parameter() -> None:
    _refused({"scenario": small_flash_sale(), "axes": [parse_axis("buyers.arival_rate=1")]},
             "Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("spec", "match"),
    [("rate", "expected PARAM=v1,v2"), ("rate=", "expected PARAM=v1,v2"),
     ("rate=1,1", "given twice")],
)
def test_malformed_sweeps(spec: str, match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        parse_axis(spec)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"replications": 0}, "--replications must be at least 1"),
     ({"until": -5.0}, "--until must be a positive time")],
)
def test_impossible_run_settings(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SimulationError, match=match):
        Experiment(small_flash_sale(), **kwargs)  # type: ignore[arg-type]


def test_zero_workers() -> None:
    with pytest.raises(SimulationError, match="--workers must be at least 1"):
        run_experiment(Experiment(small_flash_sale()), workers=0)


def test_sweeping_one_parameter_twice() -> None:
    with pytest.raises(SimulationError, match="swept or compared twice"):
        Experiment(small_flash_sale(), axes=[parse_axis("rate=1,2")],
                   compare=parse_axis("arrival_rate=3,4"))


def test_utilisation_of_one_or_more_has_no_steady_state() -> None:
    # steady_mix asks for a steady state (warm-up 300 s); at 40 buyers a second its two
    # gateway slots would be busy more than all the time.
    scenario = library_scenario("steady_mix", capacity__gateway_concurrency=2,
                                buyers__arrivals__rate=40)
    assert offered_load(scenario)["gateway"] >= 1
    with pytest.raises(SimulationError, match=r"gateway utilisation would be .* \(>= 1\)") as e:
        require_steady_state(scenario)
    assert "capacity.gateway_concurrency" in str(e.value)
    with pytest.raises(SimulationError, match=r"does not exist"):
        run_experiment(Experiment(scenario))


def test_a_transient_study_may_overload() -> None:
    # The flash sale has no warm-up: its queues may grow, that is what it studies.
    scenario = small_flash_sale(capacity__workers=1, buyers__arrivals__rate=50)
    require_steady_state(scenario)


def test_the_shipped_scenarios_have_a_steady_state() -> None:
    for name in ("steady_mix", "gateway_outage", "webhook_storm"):
        assert max(offered_load(library_scenario(name)).values()) < 1, name
