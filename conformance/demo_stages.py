"""The demo's stages after the seed walk-throughs: a short conformance run, a short
simulation comparing stock policies in a flash sale, and a 20-second load run.

Each stage runs the real ``purchaseflow`` subcommand in a subprocess (the demo drives the
tools the way a user would, and never imports the simulator or Locust into its own
process), bounded in time, with its report written under the demo's folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.demo import ADMIN_TOKEN, WEBHOOK_SECRET, seed_harness

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_SEED = ROOT / "scenarios" / "seeds" / "seed_001_order_checkout.yaml"
FLASH_SALE = ROOT / "scenarios" / "library" / "flash_sale_reserve.yaml"
LOAD_SCENARIO = ROOT / "scenarios" / "library" / "steady_mix.yaml"


@dataclass
class StageResult:
    name: str
    ok: bool
    summary: str
    seconds: float
    report: str = ""
    artifacts: list[str] = field(default_factory=list)


def _purchaseflow(args: list[str], timeout: float, log: Path) -> int:
    """Run ``purchaseflow ARGS`` in its own process group; stop the whole group on Ctrl-C
    or when it outlives ``timeout``, so the demo leaves no process behind."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reference_impl.cli", *args], stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop(process)
            return 124
        except BaseException:
            _stop(process)
            raise


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 10), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            continue


def conformance_stage(out: Path, budget: float = 25.0) -> StageResult:
    started = time.monotonic()
    report = out / "conformance"
    report.mkdir(parents=True, exist_ok=True)
    with seed_harness(CONFORMANCE_SEED) as harness:
        code = _purchaseflow(
            ["check", "--url", harness.adapter.base_url, "--scenario", str(CONFORMANCE_SEED),
             "--admin-token", ADMIN_TOKEN, "--webhook-secret", WEBHOOK_SECRET,
             "--gateway-url", harness.gateway.url, "--mail-url", harness.sink.http_url,
             "--budget", str(budget), "--report-dir", str(report)],
            timeout=budget + 60, log=report / "check.log")
    summary = {0: "every checked invariant held", 1: "an invariant was violated",
               2: "harness or shop failure", 124: "timed out"}.get(code, f"exit {code}")
    return StageResult("conformance (seed 001)", code == 0, summary,
                       time.monotonic() - started, _first(report, "report.html", "check.log"))


def simulation_stage(out: Path) -> StageResult:
    started = time.monotonic()
    report = out / "simulation"
    code = _purchaseflow(
        ["sim", str(FLASH_SALE), "--compare", "stock_commit=at_order,on_payment,reserve",
         "--replications", "3", "--out", str(report), "--quiet"],
        timeout=120, log=out / "simulation.log")
    summary = "stock policies compared in the flash sale"
    try:
        data = json.loads((report / "summary.json").read_text())
        summary = _sim_summary(data) or summary
    except (OSError, ValueError):
        pass
    if code not in (0, 1):
        summary = f"sim exited {code}"
    return StageResult("simulation (flash sale)", code in (0, 1), summary,
                       time.monotonic() - started, _first(report, "summary.json"),
                       sorted(str(p) for p in report.glob("*.png")))


def _sim_summary(data: object) -> str:
    """'oversold: at_order 0, on_payment 37, reserve 0' from the sim's summary.json."""
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list):
        return ""
    parts = []
    for point in points:
        settings = point.get("settings") or {}
        label = ",".join(str(v) for v in settings.values()) if isinstance(settings, dict) else "?"
        metrics = point.get("metrics", {})
        oversold = metrics.get("oversold_units", {})
        mean = oversold.get("mean") if isinstance(oversold, dict) else oversold
        if mean is not None:
            parts.append(f"{label}: {float(mean):.1f}")
    return "oversold units " + ", ".join(parts) if parts else ""


def load_stage(out: Path, seconds: int = 20) -> StageResult:
    started = time.monotonic()
    report = out / "load"
    code = _purchaseflow(
        ["load", "--reference", "--scenario", str(LOAD_SCENARIO), "--users", "10",
         "--spawn-rate", "10", "--run-time", f"{seconds}s", "--headless", "--quiet",
         "--out", str(report), "--gateway-port", "0", "--smtp-port", "0"],
        timeout=seconds + 120, log=out / "load.log")
    summary = {0: "audit passed, thresholds held", 1: "a threshold was broken",
               3: "an invariant was broken", 124: "timed out"}.get(code, f"exit {code}")
    return StageResult(f"load ({seconds} s, audited)", code == 0, summary,
                       time.monotonic() - started, _first(report, "report.html", "summary.json"))


def _first(folder: Path, *names: str) -> str:
    for name in names:
        found = sorted(folder.rglob(name)) if folder.exists() else []
        if found:
            return str(found[0])
    return str(folder)
