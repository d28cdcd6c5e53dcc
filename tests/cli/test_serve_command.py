"""``purchaseflow serve``: bad input is one readable line and a non-zero exit; a real server
answers and stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conformance.reference_shop import ReferenceShop, free_port

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "seeds"


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reference_impl.cli", "serve", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--host", "10.0.0.1"], {}, "not a loopback address"),
        (["--host", "example.com"], {}, "is not an IP address"),
        (["--port", "70000"], {}, "out of range"),
        (["--workers", "0"], {}, "--workers must be at least 1"),
        (["--stock-commit", "sometimes"], {}, "invalid choice"),
        (["--reservation-ttl", "-5"], {}, "reservation_ttl"),
        (["--stock-commit", "reserve", "--reservation-ttl", "0"], {}, "reservation_ttl"),
        (["--database-url", "nosuchdb://x"], {}, "cannot open the database"),
        ([], {"PURCHASEFLOW_SMTP_PORT": "seventy"}, "smtp_port"),
        (["--scenario", "/nonexistent/scenario.yaml"], {}, "scenario.yaml"),
        (["--load-catalog"], {}, "--load-catalog needs --scenario"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = serve("--port", str(free_port()),
                   "--database-url", f"sqlite:///{tmp_path / 'x.db'}", *args, env=env)
    assert result.returncode != 0
    lines = [ln for ln in result.stderr.strip().splitlines() if "is unavailable" not in ln]
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def test_serves_a_scenario_profile_with_its_catalog(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "reference_impl.cli", "serve", "--port", str(port),
         "--database-url", f"sqlite:///{tmp_path / 'shop.db'}", "--load-catalog",
         "--scenario", str(SCENARIO / "seed_001_order_checkout.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health.json()["profile"] == "seed-001-order-checkout"
        products = httpx.get(f"http://127.0.0.1:{port}/products").json()
        assert products["total"] > 0
        assert all(v["availability"] for p in products["items"] for v in p["variants"])
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        assert process.wait(20) == 0 or process.returncode == -signal.SIGTERM
    out = process.stdout.read() if process.stdout else ""
    assert "Traceback" not in out


def test_two_workers_serve_and_stop(tmp_path: Path) -> None:
    with ReferenceShop(workers=2, database_url=f"sqlite:///{tmp_path / 's.db'}") as shop:
        pids = set()
        for _ in range(30):
            assert httpx.get(f"{shop.url}/healthz").status_code == 200
        spec = httpx.get(f"{shop.url}/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        del pids
    assert "Traceback" not in shop.output()
