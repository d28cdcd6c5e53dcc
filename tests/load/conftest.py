"""Helpers of the load tests: the small scenario, ``purchaseflow load`` as a subprocess, and
a reference shop shared by the runs that bring their own ``--url``.

No module here imports Locust: ``purchaseflow load`` runs it in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conformance.reference_shop import ReferenceShop, free_port

SCENARIO = Path(__file__).with_name("scenario_small.yaml")
ADMIN_TOKEN = "load-test-admin-token"
WEBHOOK_SECRET = "whsec_load_test_secret"
#: Every run is short and stops by itself; the audit's waits are bounded too.
COMMON = ["--scenario", str(SCENARIO), "--headless", "--quiet", "--admin-token", ADMIN_TOKEN,
          "--webhook-secret", WEBHOOK_SECRET, "--stop-timeout", "1", "--settle-timeout", "20",
          "--ttl-grace", "3"]


@dataclass
class LoadRun:
    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out / "summary.json").read_text())
        return data

    def explain(self) -> str:
        log = self.out / "locust.log"
        tail = log.read_text()[-3000:] if log.exists() else "(no locust.log)"
        return f"exit {self.returncode}\n{self.stdout}\n{self.stderr}\n--- locust.log\n{tail}"


def run_load(*args: str, out: Path, timeout: float = 90) -> LoadRun:
    command = [sys.executable, "-m", "reference_impl.cli", "load", *COMMON, "--out", str(out),
               *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parents[2])
    return LoadRun(done.returncode, done.stdout, done.stderr, out)


@dataclass
class SharedShop:
    shop: ReferenceShop
    gateway_port: int
    smtp_port: int

    def args(self) -> list[str]:
        """Options of a run against this shop: the run starts the doubles where it looks."""
        return ["--url", self.shop.url, "--gateway-port", str(self.gateway_port),
                "--smtp-port", str(self.smtp_port)]


@pytest.fixture(scope="module")
def shared_shop() -> Iterator[SharedShop]:
    gateway_port, smtp_port = free_port(), free_port()
    with ReferenceShop(scenario=str(SCENARIO), admin_token=ADMIN_TOKEN,
                       webhook_secret=WEBHOOK_SECRET,
                       gateway_url=f"http://127.0.0.1:{gateway_port}", smtp_port=smtp_port,
                       worker_poll=0.1) as shop:
        yield SharedShop(shop, gateway_port, smtp_port)
