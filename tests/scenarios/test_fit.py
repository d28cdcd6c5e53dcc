"""``purchaseflow scenario fit``: the scenario's distributions fitted to measured durations."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter
from scipy import stats

from reference_impl.cli import main
from scenarios.fitting import FitError, Samples, fit_all, read_samples
from scenarios.schema import Distribution
from tests.support.cli import assert_refused_in_one_line


def _samples(values: list[float]) -> Samples:
    return Samples(tuple(values), (1.0,) * len(values), "test")


@pytest.mark.parametrize(
    ("dist", "draw", "truth"),
    [
        ("lognormal", lambda r: r.lognormvariate(math.log(0.02), 0.5),
         {"median": 0.02, "sigma": 0.5}),
        ("exponential", lambda r: r.expovariate(1 / 0.3), {"mean": 0.3}),
        ("normal", lambda r: r.gauss(1.0, 0.1), {"mean": 1.0, "stddev": 0.1}),
        ("uniform", lambda r: r.uniform(2.0, 5.0), {"low": 2.0, "high": 5.0}),
    ],
)
def test_each_distribution_is_recognised_with_its_parameters(
    dist: str, draw: object, truth: dict[str, float],
) -> None:
    rng = random.Random(dist)
    fits = fit_all(_samples([draw(rng) for _ in range(4000)]))  # type: ignore[operator]
    best = fits[0]
    assert best.dist == dist, [(f.dist, f.aic) for f in fits]
    for name, value in truth.items():
        assert best.params[name] == pytest.approx(value, rel=0.05), (name, best.params)
    assert best.ks < 0.03
    assert [f.aic for f in fits] == sorted(f.aic for f in fits)
    # The best line is the scenario format's own syntax, and means the same distribution.
    parsed = TypeAdapter(Distribution).validate_python(yaml.safe_load(best.yaml()))
    assert parsed.dist == dist


def test_likelihood_and_ks_agree_with_scipy() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(0, 0.7) for _ in range(500)]
    fits = {f.dist: f for f in fit_all(_samples(values))}
    lognormal = fits["lognormal"]
    median, sigma = lognormal.params["median"], lognormal.params["sigma"]
    frozen = stats.lognorm(s=sigma, scale=median)
    assert lognormal.log_likelihood == pytest.approx(sum(frozen.logpdf(values)))
    assert lognormal.ks == pytest.approx(stats.kstest(values, frozen.cdf).statistic)
    exponential = stats.expon(scale=fits["exponential"].params["mean"])
    assert fits["exponential"].log_likelihood == pytest.approx(sum(exponential.logpdf(values)))


def test_a_load_run_s_histograms_are_fitted_with_their_counts(tmp_path: Path) -> None:
    rng = random.Random(9)
    windows: dict[str, dict[str, int]] = {}
    for window in range(10):
        histogram: dict[str, int] = {}
        for _ in range(300):
            ms = str(round(rng.lognormvariate(math.log(8), 0.4)))
            histogram[ms] = histogram.get(ms, 0) + 1
        windows[str(window)] = histogram
    windows["0"]["0"] = 3  # three answers under half a millisecond
    (tmp_path / "latency.json").write_text(json.dumps(
        {"seconds": 2.0, "steps": {"create_order": windows, "list_products": {}}}))
    samples = read_samples(tmp_path, step="create_order")
    assert samples.n == 3003
    assert samples.notes == ("3 responses under 0.5 ms taken as 0.25 ms",)
    best = fit_all(samples)[0]
    assert best.dist == "lognormal"
    assert best.params["median"] == pytest.approx(0.008, rel=0.05)  # seconds
    with pytest.raises(FitError, match=r"--step is needed \(one of create_order, list_products"):
        read_samples(tmp_path)


def test_the_command_prints_the_ranking_and_the_best_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(4)
    path = tmp_path / "durations.csv"
    path.write_text("when,ms\n" + "".join(f"t{i},{rng.expovariate(1 / 40):.3f}\n"
                                           for i in range(1000)))
    assert main(["scenario", "fit", str(path), "--column", "ms", "--unit", "ms"]) == 0
    out = capsys.readouterr().out
    assert "1,000 values" in out and "observed" in out
    assert "best: {dist: exponential, mean: 0.04" in out
    assert main(["scenario", "fit", str(path), "--column", "ms", "--unit", "ms",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["best"].startswith("{dist: exponential")
    assert report["fits"][0]["dist"] == "exponential"
    assert set(report["observed"]) == {"p50", "p90", "p99"}


@pytest.mark.parametrize(
    ("content", "args", "words"),
    [
        ("0.1\n0.2\nfast\n", [], ["durations.txt:3: not a number: 'fast'"]),
        ("0.1\n-0.2\n", [], ["durations.txt:2: a duration is a finite number of 0 or more"]),
        ("0.1\n0.2\n", [], ["2 values; at least 10"]),
        ("0.5\n" * 20, [], ["every value is 0.5 s", "{dist: fixed, value: 0.5}"]),
        ("a,b\n1,2\n", ["--column", "ms"], ["no column 'ms' (it has a, b)"]),
        ("0.1\n" * 20, ["--step", "create_order"], ["--step goes with a load run's folder"]),
        ("", [], ["no values"]),
    ],
    ids=["not a number", "negative", "too few", "all equal", "unknown column",
         "step with a file", "empty"],
)
def test_bad_data_is_one_line_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, args: list[str],
    words: list[str],
) -> None:
    path = tmp_path / "durations.txt"
    path.write_text(content)
    assert_refused_in_one_line(capsys, ["scenario", "fit", str(path), *args], words)


def test_a_folder_that_is_not_a_load_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    assert_refused_in_one_line(capsys, ["scenario", "fit", str(tmp_path), "--step", "x"],
                               ["latency.json: not a load run's response times"])
