"""``purchaseflow load``'s options: a mistake is one line on stderr and a non-zero exit,
before anything starts; and the CLI never imports Locust (only the locustfiles do)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reference_impl.cli import main
from tests.load.conftest import SCENARIO

ROOT = Path(__file__).resolve().parents[2]


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run ``purchaseflow load ARGS`` in process; its exit status and its stderr."""
    try:
        code = main(["load", *args])
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    ([], "the following arguments are required: --scenario"),
    (["--scenario", str(SCENARIO)], "give the shop to load: --url URL, or --reference"),
    (["--reference", "--url", "http://127.0.0.1:1", "--scenario", str(SCENARIO)],
     "argument --url: not allowed with argument --reference"),
    (["--reference", "--scenario", "no/such/file.yaml"], "no/such/file.yaml"),
    (["--reference", "--scenario", str(SCENARIO), "--users", "0"], "must be at least 1"),
    (["--reference", "--scenario", str(SCENARIO), "--run-time", "soon"], "not a duration"),
    (["--reference", "--scenario", str(SCENARIO), "--mix", "window-shopping"],
     "the scenario's mixes are browsing, shopping, ordering"),
    (["--reference", "--scenario", str(SCENARIO), "--threshold", "p95 under 5"],
     "is not [STEP:]METRIC<VALUE"),
    (["--reference", "--scenario", str(SCENARIO), "--threshold", "pay:p95<5"],
     "unknown step 'pay'"),
    (["--reference", "--scenario", str(SCENARIO), "--arrival-rate", "5", "--stage", "10s:5"],
     "--stage shapes a closed workload"),
    (["--reference", "--scenario", str(SCENARIO), "--closed", "--arrival-rate", "5"],
     "--closed and --arrival-rate: choose one workload model"),
    (["--reference", "--scenario", str(SCENARIO), "--open", "--closed"],
     "argument --closed: not allowed with argument --open"),
    (["--reference", "--scenario", str(SCENARIO), "--stage", "10s"],
     "expected DURATION:USERS[:RATE]"),
    (["--reference", "--scenario", str(SCENARIO), "--adapter", "no_such_module:Shop"],
     "cannot import no_such_module"),
    (["--reference", "--scenario", str(SCENARIO), "--adapter", "load.plan:draw_basket"],
     "draw_basket is not a ShopAdapter subclass"),
    (["--worker", "--reference", "--scenario", str(SCENARIO)], "--worker needs --url"),
    (["--processes", "2", "--master", "--reference", "--scenario", str(SCENARIO)],
     "not allowed with argument --processes"),
    (["--url", "http://127.0.0.1:1", "--scenario", str(SCENARIO), "--shop-workers", "2"],
     "--shop-workers goes with --reference"),
    (["--url", "http://127.0.0.1:1", "--scenario", str(SCENARIO),
      "--shop-database-url", "sqlite:///x.db"], "--shop-database-url goes with --reference"),
    (["--url", "http://127.0.0.1:1", "--scenario", str(SCENARIO),
      "--shop-writer-priority", "5"], "--shop-writer-priority goes with --reference"),
    (["--reference", "--scenario", str(SCENARIO), "--shop-writer-priority", "-1"],
     "argument --shop-writer-priority: must be from 0 to 39, not -1"),
    (["--reference", "--scenario", str(SCENARIO), "--retries", "11"],
     "argument --retries: must be from 0 to 10, not 11"),
    (["--reference", "--scenario", str(SCENARIO), "--retries", "two"],
     "argument --retries: not a whole number: 'two'"),
    (["--reference", "--scenario", str(SCENARIO), "--retry-backoff", "0"],
     "argument --retry-backoff: must be > 0, not 0"),
    (["--reference", "--scenario", str(SCENARIO), "--lose-answers", "1.5"],
     "argument --lose-answers: must be from 0 to 1, not 1.5"),
    (["--reference", "--scenario", str(SCENARIO), "--lose-answers", "0.1", "--master"],
     "--lose-answers runs on one machine: not with --master or --worker"),
    (["--reference", "--scenario", str(SCENARIO), "--baseline", "no/such/run"],
     "--baseline: no/such/run: no summary.json"),
    (["--worker", "--url", "http://127.0.0.1:1", "--scenario", str(SCENARIO), "--baseline",
      "x"], "--baseline goes with the master"),
])
def test_bad_options_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                  message: str) -> None:
    code, err = fails(capsys, *args)
    assert code == 2, err
    assert message in err
    assert len(err.strip().splitlines()) == 1, err


def test_an_unreachable_shop_is_one_line_after_the_doubles_stop(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = fails(capsys, "--url", "http://127.0.0.1:9", "--scenario", str(SCENARIO),
                      "--gateway-port", "0", "--smtp-port", "0", "--headless",
                      "--out", str(tmp_path))
    assert code == 2
    assert err.startswith("purchaseflow load: cannot set up the shop at http://127.0.0.1:9")
    assert len(err.strip().splitlines()) == 1


def test_a_reference_shop_that_cannot_start_is_one_line(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, err = fails(capsys, "--reference", "--scenario", str(SCENARIO),
                      "--shop-database-url", "nosuch://x", "--gateway-port", "0",
                      "--smtp-port", "0", "--headless", "--out", str(tmp_path))
    assert code == 2
    assert err.startswith("purchaseflow load: cannot start the run's servers: purchaseflow "
                          "serve exited: purchaseflow serve: cannot open the database "
                          "nosuch://x")
    assert len(err.strip().splitlines()) == 1


def test_the_cli_is_one_line_through_the_console_script_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reference_impl.cli", "load", "--scenario", str(SCENARIO)],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "purchaseflow load: give the shop to load: --url URL, or --reference"]


def test_the_cli_never_imports_locust() -> None:
    modules = ["load.command", "load.run", "load.report", "load.plan", "load.after_run",
               "load.summary", "load.environment", "load.locust_process", "load.metrics",
               "load.adapters", "load.config"]
    probe = (f"import sys; import {', '.join(modules)}; "
             "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')); "
             "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
