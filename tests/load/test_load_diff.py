"""``purchaseflow load-diff``: two runs compared by batches of their response-time windows."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from load.diff import (
    FASTER,
    FEWER,
    MORE,
    SAME,
    SLOWER,
    TOO_FEW,
    UNCLEAR,
    Run,
    batches,
    diff,
    judge,
)
from load.metrics import LATENCY_FILE, LatencyWindows, round_ms
from reference_impl.cli import main
from tests.load.conftest import SCENARIO, SharedShop, run_load
from tests.support.cli import assert_refused_in_one_line


def _windows(rng: random.Random, *, median: float, per_window: int = 60, windows: int = 20,
             step: str = "create_order") -> LatencyWindows:
    """A run whose step answers in lognormal times around ``median`` ms."""
    latency = LatencyWindows()
    for window in range(windows):
        for _ in range(per_window):
            latency.record(step, window, round_ms(rng.lognormvariate(0, 0.3) * median))
    return latency


def _run(folder: Path, latency: LatencyWindows, *, failed: int = 0, requests: int = 1200,
         findings: tuple[str, ...] = (), title: str = "a run") -> Path:
    folder.mkdir(parents=True)
    steps = {step: {"requests": requests, "failed": failed} for step in latency.steps}
    audit = {"ok": not findings, "findings": [{"invariant": i} for i in findings]}
    (folder / "summary.json").write_text(json.dumps(
        {"title": title, "steps": {**steps, "all": {"requests": requests, "failed": failed}},
         "audit": audit}))
    (folder / LATENCY_FILE).write_text(json.dumps(latency.to_json()))
    return folder


def _change(result: Any, metric: str, step: str = "create_order") -> Any:
    return next(c for c in result.changes if (c.step, c.metric) == (step, metric))


def test_windows_merge_into_batches_of_enough_requests_and_the_last_is_left_out() -> None:
    windows = {0: Counter({10: 15}), 1: Counter({10: 30}), 2: Counter({20: 50}),
               4: Counter({30: 45}), 5: Counter({40: 99})}
    got = batches(windows, need=40, skip=0)
    assert [sum(b.values()) for b in got] == [45, 50, 45]  # window 5 is cut short: left out
    assert [sum(b.values()) for b in batches(windows, need=40, skip=2)] == [50, 45]


def test_the_verdicts_of_an_interval_against_the_tolerance() -> None:
    def verdict(low: float, high: float) -> str:
        return judge(low, high, 0.1, worse=SLOWER, better=FASTER)

    assert verdict(0.15, 0.4) == SLOWER
    assert verdict(-0.5, -0.2) == FASTER
    assert verdict(-0.05, 0.08) == SAME
    assert verdict(0.02, 0.3) == UNCLEAR  # maybe slower by more than 10%, maybe not


def test_a_slower_candidate_is_a_regression_and_the_same_one_is_not(tmp_path: Path) -> None:
    base = Run.read(_run(tmp_path / "base", _windows(random.Random(1), median=50)))
    slow = Run.read(_run(tmp_path / "slow", _windows(random.Random(2), median=75)))
    same = Run.read(_run(tmp_path / "same", _windows(random.Random(3), median=50)))

    result = diff(base, slow)
    for metric in ("p50", "p95"):
        change = _change(result, metric)
        assert change.verdict == SLOWER, change
        assert change.low < 0.5 < change.high  # 50% slower, inside the interval
    assert result.exit_code == 1 and "create_order p50 slower" in result.verdict()

    result = diff(base, same)
    assert _change(result, "p50").verdict == SAME
    assert _change(result, "rps").verdict == SAME
    assert result.exit_code == 0 and result.verdict() == "NO REGRESSION"
    assert _change(diff(slow, base), "p50").verdict == FASTER


def test_a_floor_keeps_a_large_relative_change_of_a_few_milliseconds_from_failing(
    tmp_path: Path,
) -> None:
    base = Run.read(_run(tmp_path / "base", _windows(random.Random(12), median=4)))
    doubled = Run.read(_run(tmp_path / "doubled", _windows(random.Random(13), median=8)))
    assert _change(diff(base, doubled), "p50").verdict == SLOWER  # +100%
    assert _change(diff(base, doubled, floor_ms=10), "p50").verdict == SAME  # +4 ms < 10
    assert _change(diff(base, doubled, floor_ms=3), "p50").verdict == SLOWER  # +4 ms > 3


def test_too_few_requests_per_window_cannot_tell_a_p99() -> None:
    rng = random.Random(4)
    a = Run(Path("a"), "t", {"create_order": {"requests": 40, "failed": 0}}, None,
            _windows(rng, median=50, per_window=2, windows=20))
    change = _change(diff(a, a, percentiles=[0.99]), "p99")
    assert change.verdict == TOO_FEW and change.batches == (0, 0)


def test_lower_throughput_is_a_regression(tmp_path: Path) -> None:
    base = Run.read(_run(tmp_path / "base", _windows(random.Random(5), median=50)))
    fewer = Run.read(_run(tmp_path / "fewer", _windows(random.Random(6), median=50,
                                                       per_window=40)))
    change = _change(diff(base, fewer), "rps")
    assert change.verdict == FEWER and change.regression
    assert _change(diff(fewer, base), "rps").verdict == MORE


def test_more_failures_and_a_newly_broken_invariant_are_regressions(tmp_path: Path) -> None:
    latency = _windows(random.Random(7), median=50)
    base = Run.read(_run(tmp_path / "base", latency, failed=0, findings=("I7",)))
    worse = Run.read(_run(tmp_path / "worse", latency, failed=60, findings=("I1", "I7")))
    result = diff(base, worse)
    assert _change(result, "failures").verdict == MORE
    assert result.broken == ["I1"]  # I7 was broken in the baseline too
    assert "invariants broken only by the candidate: I1" in result.verdict()
    assert result.exit_code == 1
    assert _change(diff(base, Run.read(_run(tmp_path / "one", latency, failed=1))),
                   "failures").verdict != MORE


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["{base}", "{missing}"], ["no summary.json"]),
        (["{base}", "{nolatency}"], [f"no {LATENCY_FILE}"]),
        (["{base}", "{base}", "--tolerance", "lots"], ["--tolerance expects a number"]),
        (["{base}", "{base}", "--tolerance", "150%"], ["between 0 and 1"]),
        (["{base}", "{base}", "--percentiles", "95,x"], ["--percentiles expects numbers"]),
        (["{base}", "{base}", "--percentiles", "100"], ["not a percentile"]),
        (["{base}", "{base}", "--steps", "checkout"], ["checkout not in both runs"]),
        (["{base}", "{base}", "--skip", "-1"], ["--skip must be 0 or more"]),
        (["{base}", "{base}", "--floor", "-2"], ["--floor must be 0 or more"]),
    ],
    ids=["not a run", "no latency windows", "tolerance not a number", "tolerance above one",
         "bad percentile", "percentile of 100", "unknown step", "negative skip",
         "negative floor"],
)
def test_refusals_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: list[str],
) -> None:
    base = _run(tmp_path / "base", _windows(random.Random(8), median=50))
    nolatency = _run(tmp_path / "old", _windows(random.Random(8), median=50))
    (nolatency / LATENCY_FILE).unlink()
    folders = {"base": base, "missing": tmp_path / "nowhere", "nolatency": nolatency}
    assert_refused_in_one_line(capsys, ["load-diff", *(a.format(**folders) for a in args)],
                               words)


@pytest.mark.slow
def test_real_runs_a_failing_gateway_shows_in_create_order(
    shared_shop: SharedShop, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Two real Locust runs against the reference shop; in the second the gateway double
    fails 70% of session calls with a 503, which the shop retries after 0.1 s and 0.2 s: its
    orders are slower, and load-diff says so (exit 1), far more than any other step, as the
    run itself does when given the first as its --baseline (exit 5); the windows recorded
    agree with Locust's own counts."""
    failing = tmp_path / "failing.yaml"
    failing.write_text(SCENARIO.read_text().replace(
        "    decline_rate: 0.1", "    decline_rate: 0.1\n    create_error_rate: 0.7"))
    runs = {}
    for name, scenario, more, code in (("base", SCENARIO, [], 0),
                                        ("failing", failing, ["--baseline", "base"], 5)):
        run = run_load(*shared_shop.args(), "--scenario", str(scenario), "--run-time", "10",
                       "--think-time-scale", "0", "--users", "6",
                       *[str(tmp_path / m) if m == "base" else m for m in more],
                       out=tmp_path / name)
        assert run.returncode == code, run.explain()
        latency = json.loads((tmp_path / name / LATENCY_FILE).read_text())
        for step, figures in run.summary["steps"].items():
            if step != "all":
                recorded = sum(sum(h.values()) for h in latency["steps"][step].values())
                assert recorded == figures["requests"], (name, step)
        runs[name] = run
    # The run itself compared with its --baseline, as load-diff does: exit 5.
    against = runs["failing"].summary["baseline"]
    assert against["verdict"].startswith("REGRESSION"), against
    assert runs["failing"].summary["verdict"].startswith("FAILED: against the baseline")
    assert "this run against the baseline" in runs["failing"].stdout
    code = main(["load-diff", str(tmp_path / "base"), str(tmp_path / "failing"),
                 "--percentiles", "50", "--steps", "create_order,list_products", "--json"])
    result = json.loads(capsys.readouterr().out)
    changes = {(c["step"], c["metric"]): c for c in result["changes"]}
    assert code == 1, result
    assert changes[("create_order", "p50")]["verdict"] == SLOWER, result
    # The retries' backoff (0.1 s and more) on orders of a few milliseconds: several times
    # slower, far beyond anything a busy machine does to the other steps (the two runs may
    # meet different loads from the tests beside them).
    order, browse = changes[("create_order", "p50")], changes[("list_products", "p50")]
    assert order["relative_low"] > 1.0, result
    assert order["relative_low"] > browse["relative_high"], result
