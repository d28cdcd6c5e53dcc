"""An experiment kept in its scenario (``experiment:``), and the options that replace its parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reference_impl.cli import main
from tests.sim.conftest import small_flash_sale, write_scenario
from tests.support.cli import assert_refused_in_one_line

PLAN = """
experiment:
  sweep:
    - {param: burst_buyers, values: [100, 400]}
  compare: {param: stock_commit, values: [on_payment, reserve]}
  select_best: {metric: oversold_units, goal: min, indifference: 5}
  effects: [oversold_units]
  warmup_check: false
"""


def _planned(tmp_path: Path, plan: str = PLAN) -> Path:
    path = write_scenario(tmp_path, small_flash_sale("on_payment"))
    path.write_text(path.read_text() + plan)
    return path


def _summary(tmp_path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> dict:  # type: ignore[type-arg]
    path = _planned(tmp_path)
    code = main(["sim", str(path), "--replications", "3", "--workers", "1", "--quiet",
                 "--json", *options])
    assert code == 0
    summary: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
    return summary


def test_the_kept_experiment_runs_as_the_file_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    summary = _summary(tmp_path, capsys)
    assert [(a["name"], a["values"]) for a in summary["axes"]] == [("burst_buyers", [100, 400])]
    assert summary["compare"]["values"] == ["on_payment", "reserve"]
    assert summary["selection"]["metric"] == "oversold_units"
    assert summary["selection"]["indifference"] == 5
    assert [g["chosen_settings"]["stock_commit"] for g in summary["selection"]["groups"]] == [
        "reserve", "reserve"]
    assert {tuple(e["factors"]) for e in summary["effects"]["oversold_units"]} == {
        ("burst_buyers",), ("stock_commit",), ("burst_buyers", "stock_commit")}


def test_an_option_replaces_only_its_own_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    summary = _summary(tmp_path, capsys, "--compare", "stock_commit=reserve,on_payment",
                       "--indifference", "2", "--effects", "lost_sales")
    assert summary["compare"]["values"] == ["reserve", "on_payment"]  # the option's
    assert summary["axes"][0]["name"] == "burst_buyers"  # the file's
    assert (summary["selection"]["metric"], summary["selection"]["indifference"]) == (
        "oversold_units", 2)
    assert list(summary["effects"]) == ["lost_sales"]


def test_a_kept_precision_takes_its_cap_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = _planned(tmp_path, "\nexperiment:\n  precision: {relative: 0.001, metrics: "
                              "[conversion]}\n")
    assert main(["sim", str(path), "--replications", "2", "--workers", "1", "--quiet",
                 "--json", "--max-replications", "3"]) == 0
    precision = json.loads(capsys.readouterr().out)["precision"]
    assert (precision["relative"], precision["metrics"]) == (0.001, ["conversion"])
    assert precision["max_replications"] == 3 and precision["rounds"] == [2, 3]


@pytest.mark.parametrize(
    ("plan", "marker", "words"),
    [
        ("\nexperiment:\n  compare: {param: stock_commit, values: [reserve]}\n",
         "compare:", ["experiment.compare: compare needs at least two values"]),
        ("\nexperiment:\n  compare: {param: stock_commit, values: [reserve, on_payment]}\n"
         "  select_best: {metric: nope, goal: min, indifference: 1}\n",
         "select_best:", ["experiment.select_best: --select-best: no metric 'nope'"]),
        ("\nexperiment:\n  sweep:\n    - {param: rate, values: [1, -1]}\n",
         "- {param: rate", ["experiment.sweep[0]: rate buyers.arrivals.rate=-1",
                            "greater than or equal to 0"]),
        ("\nexperiment:\n  sweeps: []\n", "sweeps:",
         ["experiment.sweeps: unknown key (did you mean 'sweep'?)"]),
    ],
    ids=["compare of one value", "unknown metric", "impossible sweep value", "misspelt key"],
)
def test_a_bad_kept_part_names_the_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], plan: str, marker: str,
    words: list[str],
) -> None:
    path = _planned(tmp_path, plan)
    line = next(n for n, text in enumerate(path.read_text().splitlines(), start=1)
                if text.strip().startswith(marker))
    assert_refused_in_one_line(capsys, ["sim", str(path)], [f"{path}:{line}: ", *words])
