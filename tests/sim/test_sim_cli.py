"""``purchaseflow sim`` as a user runs it: a real process, its exit code, its files."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

import sim.model
from reference_impl.cli import main
from sim.invariants import find_violations
from tests.sim.conftest import PURCHASEFLOW, ROOT, small_flash_sale, write_scenario
from tests.support.cli import assert_refused_in_one_line

PNG = b"\x89PNG\r\n\x1a\n"


def purchaseflow(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PURCHASEFLOW), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("purchaseflow sim: ")
    for word in words:
        assert word in line


def test_a_sweep_with_a_comparison_writes_every_output(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, small_flash_sale("reserve"))
    out = tmp_path / "out"
    result = purchaseflow("sim", scenario, "--replications", "2", "--sweep", "rate=0.2,0.6",
                          "--compare", "stock_commit=reserve,on_payment", "--workers", "2",
                          "--seed", "5", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "paired differences against stock_commit=reserve" in result.stdout
    assert "no invariant violations" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [p["settings"] for p in summary["points"]] == [
        {"rate": 0.2, "stock_commit": "reserve"}, {"rate": 0.2, "stock_commit": "on_payment"},
        {"rate": 0.6, "stock_commit": "reserve"}, {"rate": 0.6, "stock_commit": "on_payment"},
    ]
    oversold = [p["metrics"]["oversold_units"]["mean"] for p in summary["points"]]
    assert oversold[0] == 0 and oversold[1] > 0
    assert [(c["point"], c["baseline"]) for c in summary["comparisons"]] == [(1, 0), (3, 2)]
    rows = (out / "replications.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 * 2 and rows[0].startswith("point,rate,stock_commit,replication,")
    assert (out / "summary.csv").exists() and (out / "comparisons.csv").exists()
    for name in ("confirmation_cdf", "oversold_units_vs_rate", "lost_sales_vs_rate"):
        assert (out / f"{name}.png").read_bytes().startswith(PNG), name


def test_json_on_stdout_and_a_trace_file(tmp_path: Path) -> None:
    scenario = write_scenario(tmp_path, small_flash_sale("on_payment"))
    result = purchaseflow("sim", scenario, "--replications", "1", "--json", "--trace",
                          "--until", "100", "--out", tmp_path / "out", "--no-plots")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["points"][0]["metrics"]["sessions"]["n"] == 1
    first = json.loads((tmp_path / "out" / "trace.jsonl").read_text().splitlines()[0])
    assert {"point", "replication", "source", "target", "message", "at"} <= first.keys()
    assert not list((tmp_path / "out").glob("*.png"))


def test_a_bad_scenario_is_one_line_in_a_real_process(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, small_flash_sale())
    path.write_text(path.read_text().replace("rate: 0.2", "rate: -3"))
    _one_line_error(purchaseflow("sim", path), f"{path}:", "buyers.arrivals.rate")


# The other refusals run in this process, through the same entry point (faster: a new
# process spends seconds importing every subcommand).


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["no/such/scenario.yaml"], ["cannot read"]),
        (["{scenario}", "--sweep", "rate=1,-1"],
         ["buyers.arrivals.rate=-1", "greater than or equal to 0"]),
        (["{scenario}", "--sweep", "rate"], ["expected PARAM=v1,v2"]),
        (["{scenario}", "--replications", "0"], ["--replications must be at least 1"]),
        (["{scenario}", "--workers", "0"], ["--workers must be at least 1"]),
        (["{scenario}", "--trace"], ["--trace needs --out"]),
        (["{scenario}", "--compare", "stock_commit=at_order,sometime"],
         ["--compare profile.policies.stock_commit=sometime"]),
        # Sequential replications (test_sim_precision.py).
        (["{scenario}", "--precision", "tight"],
         ["--precision expects a number or a percentage"]),
        (["{scenario}", "--precision", "150%"], ["between 0 and 1"]),
        (["{scenario}", "--precision-for", "conversion"],
         ["--precision-for goes with --precision"]),
        (["{scenario}", "--max-replications", "9"], ["--max-replications goes with --precision"]),
        (["{scenario}", "--precision", "5%", "--precision-for", "nope"], ["no metric 'nope'"]),
        (["{scenario}", "--precision", "5%", "--replications", "1"], ["pilot of at least 2"]),
        # Selecting the best (test_sim_selection.py).
        (["{scenario}", "--select-best", "lost_sales:min", "--indifference", "1"],
         ["--select-best chooses among the values of --compare"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales", "--indifference", "1"], ["expects METRIC:min or METRIC:max"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "nope:max", "--indifference", "1"], ["no metric 'nope'"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales:min"], ["needs --indifference"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales:min", "--indifference", "0"], ["--indifference must be a positive"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales:min", "--indifference", "few"], ["--indifference expects a number"]),
        (["{scenario}", "--indifference", "2"], ["--indifference goes with --select-best"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales:min", "--indifference", "1", "--replications", "1"],
         ["--select-best needs a pilot of at least 2"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--select-best",
          "lost_sales:min", "--indifference", "1", "--replications", "5",
          "--max-replications", "3"], ["below the pilot's --replications (5)"]),
        # Factorial effects (test_sim_effects.py).
        (["{scenario}", "--effects", "lost_sales"], ["--effects needs settings to vary"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve,on_payment", "--effects",
          "lost_sales"], ["two values per setting", "stock_commit has 3"]),
        (["{scenario}", "--compare", "stock_commit=at_order,reserve", "--effects", "nope"],
         ["--effects: no metric 'nope'"]),
    ],
    ids=["missing file", "negative rate", "malformed sweep", "no replications", "no workers",
         "trace without out", "unknown policy", "precision not a number", "precision above one",
         "precision metrics alone", "precision cap alone", "precision unknown metric",
         "precision pilot of one", "select without compare", "select without direction",
         "select unknown metric", "select without indifference", "select zero indifference",
         "select indifference not a number", "indifference alone", "select pilot of one",
         "select cap below pilot", "effects without axes", "effects of three values",
         "effects unknown metric"],
)
def test_refusals_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: list[str]
) -> None:
    scenario = str(write_scenario(tmp_path, small_flash_sale()))
    assert_refused_in_one_line(capsys, ["sim", *(a.format(scenario=scenario) for a in args)],
                               words)


def test_violations_exit_1_and_show_the_first_with_its_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    def no_emails(store, policies, checked, emails, end, lag):  # type: ignore[no-untyped-def]
        return find_violations(store, policies, checked, Counter(), end, lag)

    monkeypatch.setattr(sim.model, "find_violations", no_emails)
    path = write_scenario(tmp_path, small_flash_sale("reserve"))
    code = main(["sim", str(path), "--replications", "1", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "invariant violation(s); first: I7" in out
    assert "payment_webhook" in out  # the order's trace follows
