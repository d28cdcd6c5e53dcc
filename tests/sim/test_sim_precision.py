"""Sequential replications (``--precision``): run until the intervals are as narrow as asked."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytest

from reference_impl.cli import main
from sim.errors import SimulationError
from sim.experiment import Experiment, ExperimentResult, run_experiment
from sim.params import parse_axis
from sim.precision import Precision, needed, relative_half_width, shortfalls
from sim.stats import Estimate, estimate, t_quantile
from tests.sim.conftest import small_flash_sale, write_scenario

TARGET = ("conversion", "orders_paid")


def test_the_replications_needed_are_the_fewest_whose_interval_is_narrow_enough() -> None:
    est = Estimate(mean=10.0, half_width=math.nan, n=4, std=3.0)
    n = needed(est, 0.1, cap=1000)
    assert t_quantile(n) * 3.0 / math.sqrt(n) <= 0.1 * 10.0
    assert t_quantile(n - 1) * 3.0 / math.sqrt(n - 1) > 0.1 * 10.0
    assert needed(est, 0.001, cap=50) == 50  # out of reach: the cap


def test_relative_half_widths_of_the_awkward_cases() -> None:
    assert math.isnan(relative_half_width(estimate([math.nan, math.nan])))  # undefined here
    assert relative_half_width(estimate([3.0])) == math.inf  # one value: no interval yet
    assert relative_half_width(estimate([0.0, 0.0, 0.0])) == 0.0  # all agree, zero included
    assert relative_half_width(estimate([-1.0, 1.0])) == math.inf  # a zero mean that varies
    est = estimate([9.0, 10.0, 11.0])
    assert relative_half_width(est) == pytest.approx(est.half_width / 10.0)


def test_shortfalls_leave_out_undefined_metrics_and_hold_to_the_adjusted_precision() -> None:
    precision = Precision(0.1, ("conversion", "confirmation_p95"))
    assert precision.adjusted == pytest.approx(0.1 / 1.1)
    wide = estimate([0.5, 1.0, 1.5])
    undefined = estimate([math.nan] * 3)
    (short,) = shortfalls([{"conversion": wide, "confirmation_p95": undefined}], precision)
    assert (short.point, short.metric) == (0, "conversion")
    assert short.relative_half_width == pytest.approx(wide.half_width)
    # Within gamma (0.1) but not within gamma / (1 + gamma) (0.0909): still short.
    between = Estimate(100.0, 9.5, 3, 1.0)
    assert shortfalls([{"conversion": between, "confirmation_p95": undefined}], precision)
    within = Estimate(100.0, 9.0, 3, 1.0)
    assert not shortfalls([{"conversion": within, "confirmation_p95": undefined}], precision)


def test_a_sequential_experiment_stops_once_every_interval_is_narrow_enough() -> None:
    planned: list[int] = []
    experiment = Experiment(small_flash_sale(), replications=3, precision=Precision(0.05, TARGET))
    result = run_experiment(experiment, planned=planned.append)
    sequential = result.sequential
    assert sequential is not None and sequential.met
    assert sequential.rounds[0] == 3 and len(sequential.rounds) > 1  # the pilot was not enough
    assert result.replications == sequential.rounds[-1]
    assert planned == list(sequential.rounds[1:])  # the progress bar's new totals
    assert [r.replication for r in result.runs[0]] == list(range(result.replications))
    for metric in TARGET:
        est = result.summaries[0][metric]
        assert est.n == result.replications
        assert est.half_width <= 0.05 / 1.05 * abs(est.mean)
    # One round short of the end, some interval was still too wide (it did not run on).
    before = Experiment(small_flash_sale(), replications=sequential.rounds[-2])
    assert shortfalls(run_experiment(before).summaries, Precision(0.05, TARGET))


def test_it_gives_the_summary_of_a_plain_experiment_of_as_many_replications() -> None:
    sequential = run_experiment(
        Experiment(small_flash_sale(), replications=3, precision=Precision(0.05, TARGET))
    )
    plain = run_experiment(Experiment(small_flash_sale(), replications=sequential.replications))
    assert [
        {m: e.to_json() for m, e in summary.items()} for summary in sequential.summaries
    ] == [{m: e.to_json() for m, e in summary.items()} for summary in plain.summaries]


def test_it_stops_at_the_cap_and_says_what_is_still_too_wide() -> None:
    experiment = Experiment(
        small_flash_sale(), replications=2,
        precision=Precision(0.001, ("conversion", "lost_sales"), max_replications=5),
    )
    result = run_experiment(experiment)
    sequential = result.sequential
    assert sequential is not None and not sequential.met
    assert sequential.rounds == (2, 5) and result.replications == 5
    assert {s.metric for s in sequential.shortfalls} == {"conversion", "lost_sales"}
    for short in sequential.shortfalls:
        assert short.relative_half_width > 0.001 / 1.001
        assert short.needed == 5


def _comparing(policies: str, pilot: int, precision: Precision) -> ExperimentResult:
    """The small flash sale under each stock policy, run to ``precision``."""
    return run_experiment(Experiment(
        small_flash_sale(), replications=pilot,
        compare=parse_axis(f"stock_commit={policies}", "--compare"), precision=precision,
    ))


def test_every_point_keeps_the_same_replications_so_comparisons_stay_paired() -> None:
    result = _comparing("reserve,at_order", 2, Precision(0.15, ("conversion",), 40))
    assert {len(runs) for runs in result.runs} == {result.replications}
    (comparison,) = result.comparisons
    assert comparison.differences["conversion"].n == result.replications


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Precision(0.0), ["between 0 and 1"]),
        (lambda: Precision(1.5), ["between 0 and 1"]),
        (lambda: Precision(0.1, ("conversion", "speed")), ["no metric 'speed'"]),
        (lambda: Precision(0.1, max_replications=1), ["--max-replications must be at least 2"]),
        (lambda: Experiment(small_flash_sale(), replications=1, precision=Precision(0.1)),
         ["pilot of at least 2"]),
        (lambda: Experiment(small_flash_sale(), replications=10,
                            precision=Precision(0.1, max_replications=5)),
         ["below the pilot"]),
    ],
    ids=["zero", "above one", "unknown metric", "cap of one", "pilot of one", "cap below pilot"],
)
def test_impossible_precisions_are_refused(make: object, words: list[str]) -> None:
    with pytest.raises(SimulationError) as refused:
        make()  # type: ignore[operator]
    for word in words:
        assert word in str(refused.value)


def test_the_command_reports_the_rounds_and_writes_them_to_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(write_scenario(tmp_path, small_flash_sale()))
    out = tmp_path / "out"
    code = main(["sim", scenario, "--replications", "2", "--precision", "10%",
                 "--precision-for", "conversion,orders_paid", "--workers", "1",
                 "--out", str(out), "--no-plots"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "sequential replications: 10% relative precision of conversion, orders paid " \
           "reached after 2 -> " in printed
    summary = json.loads((out / "summary.json").read_text())
    block = summary["precision"]
    assert block["met"] is True and block["shortfalls"] == []
    assert block["rounds"][0] == 2 and block["rounds"][-1] == summary["scenario"]["replications"]
    assert block["metrics"] == ["conversion", "orders_paid"]
    assert block["half_width_at_most"] == pytest.approx(0.1 / 1.1)


def test_a_precision_out_of_reach_is_said_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = str(write_scenario(tmp_path, small_flash_sale()))
    code = main(["sim", scenario, "--replications", "2", "--precision", "0.001",
                 "--max-replications", "4", "--workers", "1", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0  # the runs held every invariant; the summary says what fell short
    block = summary["precision"]
    assert block["met"] is False and block["rounds"] == [2, 4]
    assert {s["metric"] for s in block["shortfalls"]} <= {
        "conversion", "orders_paid", "confirmation_p95"
    }
    assert all(s["replications_needed"] == 4 for s in block["shortfalls"])


def test_a_difference_target_holds_each_compared_points_paired_difference() -> None:
    result = _comparing("reserve,on_payment", 3, Precision(0.1, ("diff:oversold_units",), 60))
    sequential = result.sequential
    assert sequential is not None and sequential.met and len(sequential.rounds) > 1
    (comparison,) = result.comparisons
    difference = comparison.differences["oversold_units"]
    assert difference.n == result.replications
    assert difference.half_width <= 0.1 / 1.1 * abs(difference.mean)
    # The points themselves were not held: reserve oversells nothing at all.
    assert result.summaries[0]["oversold_units"].mean == 0


def test_shortfalls_of_differences_are_named_after_the_compared_point() -> None:
    @dataclass
    class Compared:
        point: int
        differences: dict[str, Estimate]

    precision = Precision(0.1, ("conversion", "diff:lost_sales"))
    narrow = Estimate(100.0, 1.0, 10, 1.0)
    wide = Estimate(10.0, 5.0, 10, 8.0)
    summaries = [{"conversion": narrow}, {"conversion": narrow}]
    (short,) = shortfalls(summaries, precision, [Compared(1, {"lost_sales": wide})])
    assert (short.point, short.metric, short.relative_half_width) == (1, "diff:lost_sales", 0.5)
    assert not shortfalls(summaries, precision, [Compared(1, {"lost_sales": narrow})])


def test_a_difference_target_needs_a_comparison() -> None:
    with pytest.raises(SimulationError, match="diff:lost_sales: a difference needs --compare"):
        Experiment(small_flash_sale(), replications=3,
                   precision=Precision(0.1, ("diff:lost_sales",)))
    with pytest.raises(SimulationError, match="no metric 'nope'"):
        Precision(0.1, ("diff:nope",))
