"""Factorial effects (``--effects``): main effects and two-setting interactions of a 2^k grid."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from reference_impl.cli import main
from sim.effects import Factor, effects
from sim.experiment import Experiment, run_experiment
from sim.params import parse_axis
from tests.sim.conftest import small_flash_sale, write_scenario

FACTORS = [Factor("a", 0, 1), Factor("b", "x", "y"), Factor("c", False, True)]


def test_a_known_linear_model_gives_back_its_effects() -> None:
    """y = 10 + 3 xa + 2 xb + 1.5 xa xb + noise, x = -1 or +1, c without effect: Law and
    Kelton's effect is twice the coefficient (the high average minus the low one)."""
    rng = random.Random(5)
    levels = list(itertools.product((0, 1), repeat=3))
    replications = 40
    values = []
    for a, b, _c in levels:
        xa, xb = 2 * a - 1, 2 * b - 1
        values.append([10 + 3 * xa + 2 * xb + 1.5 * xa * xb + rng.gauss(0, 1)
                       for _ in range(replications)])
    found = {e.label: e for e in effects(FACTORS, levels, values)}
    truth = {"a: 0 -> 1": 6.0, "b: x -> y": 4.0, "c: False -> True": 0.0, "a x b": 3.0,
             "a x c": 0.0, "b x c": 0.0}
    assert set(found) == set(truth)
    for label, value in truth.items():
        assert found[label].estimate.covers(value), (label, found[label].estimate)
        assert found[label].estimate.n == replications
    assert {label for label, e in found.items() if e.significant} == {
        "a: 0 -> 1", "b: x -> y", "a x b"}
    assert [e.label for e in effects(FACTORS, levels, values)][:3] == [
        "a: 0 -> 1", "b: x -> y", "a x b"]  # largest first


def test_a_replication_undefined_at_some_point_is_left_out() -> None:
    levels = [(0,), (1,)]
    (effect,) = effects([Factor("a", 0, 1)], levels, [[1.0, float("nan"), 3.0], [2.0, 5.0, 5.0]])
    assert effect.estimate.n == 2 and effect.estimate.mean == pytest.approx(1.5)


def test_one_setting_s_effect_is_the_paired_difference_of_the_comparison() -> None:
    result = run_experiment(Experiment(
        small_flash_sale("on_payment"), replications=4,
        compare=parse_axis("stock_commit=on_payment,reserve", "--compare"),
        effects=("oversold_units", "lost_sales")))
    (comparison,) = result.comparisons
    for metric in ("oversold_units", "lost_sales"):
        (effect,) = result.effects[metric]
        difference = comparison.differences[metric]
        assert effect.estimate.mean == pytest.approx(difference.mean)
        assert effect.estimate.half_width == pytest.approx(difference.half_width, nan_ok=True)


def test_a_bigger_burst_oversells_only_where_stock_is_taken_after_payment() -> None:
    """Reserving never oversells, so the burst's effect on oversold units lives entirely in
    its interaction with the policy: the two are equal and opposite, replication by
    replication (a check of the signs of the design)."""
    result = run_experiment(Experiment(
        small_flash_sale("on_payment"), replications=4,
        axes=[parse_axis("burst_buyers=100,400")],
        compare=parse_axis("stock_commit=on_payment,reserve", "--compare"),
        effects=("oversold_units",)))
    found = {e.label: e for e in result.effects["oversold_units"]}
    burst = found["burst_buyers: 100 -> 400"].estimate
    interaction = found["burst_buyers x stock_commit"].estimate
    assert burst.mean > 0 and found["burst_buyers: 100 -> 400"].significant
    assert interaction.mean == pytest.approx(-burst.mean)
    assert found["stock_commit: on_payment -> reserve"].estimate.mean < 0


def test_the_command_prints_writes_and_plots_the_effects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_scenario(tmp_path, small_flash_sale("on_payment"))
    code = main(["sim", str(path), "--replications", "3", "--workers", "1", "--quiet",
                 "--sweep", "burst_buyers=100,400", "--compare", "stock_commit=on_payment,reserve",
                 "--effects", "oversold_units", "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "effects on oversold units (2^2 factorial design, 3 replications)" in out
    assert "burst_buyers x stock_commit" in out and "not zero" in out
    block = json.loads((tmp_path / "out" / "summary.json").read_text())["effects"]
    rows = block["oversold_units"]
    assert {(tuple(r["factors"]), r["kind"]) for r in rows} == {
        (("burst_buyers",), "main"), (("stock_commit",), "main"),
        (("burst_buyers", "stock_commit"), "interaction")}
    assert all({"mean", "ci_low", "ci_high", "significant", "from", "to"} <= set(r) for r in rows)
    assert (tmp_path / "out" / "effects_oversold_units.png").stat().st_size > 10_000
