"""The warm-up check (``--warmup-check``): occupancy over time and MSER-5's cut."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from reference_impl.cli import main
from sim.experiment import Experiment, run_experiment
from sim.model import simulate
from sim.warmup import mser, occupancy
from tests.sim.conftest import library_scenario, write_scenario

PNG = b"\x89PNG\r\n\x1a\n"


def _brute_occupancy(starts, ends, weights, horizon, samples):  # type: ignore[no-untyped-def]
    """The same time-averages, integrated slice by slice, interval by interval."""
    step = horizon / samples
    out = []
    for i in range(samples):
        a, b = i * step, (i + 1) * step
        area = 0.0
        for s, e, w in zip(starts, ends, weights, strict=True):
            e = math.inf if math.isnan(e) else e
            area += w * max(0.0, min(b, e) - max(a, s))
        out.append(area / step)
    return out


def test_occupancy_is_the_time_average_of_the_open_intervals_in_each_slice() -> None:
    rng = np.random.default_rng(7)
    starts = list(rng.uniform(0, 100, 300))
    ends = [s + d for s, d in zip(starts, rng.exponential(10, 300), strict=True)]
    ends[::17] = [math.nan] * len(ends[::17])  # still open when the run ended
    weights = list(rng.integers(1, 4, 300).astype(float))
    got = occupancy(starts, ends, 100.0, 40, weights)
    assert got == pytest.approx(_brute_occupancy(starts, ends, weights, 100.0, 40))
    unweighted = occupancy(starts, ends, 100.0, 40)
    assert unweighted == pytest.approx(_brute_occupancy(starts, ends, [1.0] * 300, 100.0, 40))


def test_mser_keeps_a_stationary_series_whole() -> None:
    rng = np.random.default_rng(1)
    series = list(rng.normal(10, 1, 500))
    cut = mser(series)
    assert cut is not None and cut < 50


def test_mser_cuts_a_transient_where_its_bias_has_faded() -> None:
    # An empty system filling with a time constant of 20 observations, plus noise: the
    # bias is under a noise's standard deviation after about 70 of them.
    rng = np.random.default_rng(2)
    t = np.arange(500)
    series = list(10 * (1 - np.exp(-t / 20)) + rng.normal(0, 0.5, 500))
    cut = mser(series)
    assert cut is not None and 40 <= cut <= 150


def test_mser_has_no_answer_for_a_series_still_moving_at_its_middle() -> None:
    rng = np.random.default_rng(3)
    series = list(np.linspace(0, 50, 500) + rng.normal(0, 1, 500))  # a trend to the end
    assert mser(series) is None
    with pytest.raises(ValueError, match="at least 20"):
        mser([1.0] * 10)


def _steady(warmup: float):  # type: ignore[no-untyped-def]
    """Steady Poisson arrivals; unpaid orders hold stock for the reservation's 900 s."""
    return library_scenario("steady_mix", run__duration=3600, run__warmup=warmup,
                            run__replications=6)


def test_a_warmup_shorter_than_the_reservations_take_to_fill_is_too_short() -> None:
    result = run_experiment(Experiment(_steady(60), replications=6, warmup_check=True),
                            workers=2)
    (check,) = result.warmup_checks
    held = next(s for s in check.series if s.name == "reserved_units")
    in_shop = next(s for s in check.series if s.name == "in_shop")
    assert check.replications == 6 and check.horizon == 3600
    assert held.cut is not None and 500 <= held.cut <= 1700  # the TTL is 900 s
    assert in_shop.cut is not None and in_shop.cut < held.cut  # sessions last seconds
    assert check.suggested == held.cut and not check.enough
    # The units held rise over the first 900 s and stay near their level after.
    assert np.mean(held.mean[:20]) < 0.5 * np.mean(held.mean[250:])


def test_a_warmup_past_the_cut_is_enough_and_the_series_change_no_metric() -> None:
    scenario = _steady(1800)
    result = run_experiment(Experiment(scenario, replications=6, warmup_check=True),
                            workers=2)
    (check,) = result.warmup_checks
    assert check.enough and check.suggested is not None and check.suggested <= 1800
    plain = simulate(scenario, replication=0)
    assert result.runs[0][0].metrics == plain.metrics and plain.series is None


def test_profiles_that_hold_no_stock_have_no_reservations_to_wait_for() -> None:
    scenario = _steady(300).with_overrides({"profile.policies.stock_commit": "at_order"})
    result = run_experiment(Experiment(scenario, replications=2, warmup_check=True))
    held = next(s for s in result.warmup_checks[0].series if s.name == "reserved_units")
    assert set(held.mean) == {0.0} and held.cut == 0.0


def test_the_command_says_too_short_and_draws_welchs_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(write_scenario(tmp_path, _steady(60)))
    out = tmp_path / "out"
    code = main(["sim", scenario, "--warmup-check", "--workers", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "warm-up check (MSER-5 over 6 replications, 7 s intervals)" in printed
    assert "run.warmup is 60 s: TOO SHORT, raise it to at least" in printed
    assert (out / "warmup_check.png").read_bytes().startswith(PNG)
    block = json.loads((out / "summary.json").read_text())["warmup_check"]
    (point,) = block
    assert point["configured"] == 60 and point["enough"] is False and point["settled"] is True
    assert point["suggested"] == max(s["cut"] for s in point["series"].values())
    assert len(point["series"]["in_shop"]["mean"]) == 500 and point["interval"] == 7.2


def test_a_series_that_never_settles_is_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrivals growing through the run: no steady state to find.
    ramp = [{"at": 600 * i, "buyers": 150 * i, "over": 600} for i in range(1, 6)]
    scenario = _steady(300).with_overrides({"buyers.arrivals.bursts": ramp})
    path = str(write_scenario(tmp_path, scenario))
    code = main(["sim", path, "--warmup-check", "--replications", "3", "--no-plots",
                 "--workers", "2"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "did not settle" in printed and "NOT SETTLED in the first half of the run" in printed
