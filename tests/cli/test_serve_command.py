"""``purchaseflow serve``: bad input is one readable line and a non-zero exit; a real server
answers and stops cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

from conformance.reference_shop import ReferenceShop, free_port
from reference_impl.config import Settings
from reference_impl.http.serve_command import scenario_environment
from scenarios import load_scenario
from tests.sim.conftest import write_scenario

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
        (["--db-connections", "2"], {}, "db_connections"),
        (["--writer-priority", "-1"], {}, "writer_priority: Input should be greater than"),
        ([], {"PURCHASEFLOW_WRITER_PRIORITY": "40"}, "writer_priority: Input should be less"),
        (["--http", "picohttpparser"], {}, "invalid choice"),
        ([], {"PURCHASEFLOW_EVENT_LOOP": "tokio"}, "event_loop"),
        # uvloop that cannot be imported (a platform without it): shadowed by a package
        # whose import fails, first on the path.
        (["--loop", "uvloop"], {"PYTHONPATH": "{broken}"}, "--loop uvloop: cannot import"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    (broken / "uvloop").mkdir(parents=True)
    (broken / "uvloop" / "__init__.py").write_text("raise ImportError('not on this platform')")
    env = {key: value.format(broken=broken) for key, value in env.items()}
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
        for _ in range(30):
            assert httpx.get(f"{shop.url}/healthz").status_code == 200
        spec = httpx.get(f"{shop.url}/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
    assert "Traceback" not in shop.output()


def workers(shop: ReferenceShop) -> list[psutil.Process]:
    """The server's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process(shop.pid).children():
        try:
            if (child.status() != psutil.STATUS_ZOMBIE
                    and "resource_tracker" not in " ".join(child.cmdline())):
                found.append(child)
        except psutil.NoSuchProcess:  # ended since the listing: a worker being replaced
            continue
    return found


def connections_per_worker(shop: ReferenceShop) -> dict[int, int]:
    """The established connections to the shop's port, by worker process."""
    port = int(shop.url.rsplit(":", 1)[1])
    return {
        worker.pid: sum(1 for c in worker.net_connections("tcp")
                        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)
        for worker in workers(shop)
    }


def test_workers_share_a_burst_of_kept_alive_connections(tmp_path: Path) -> None:
    # A load generator opens its connections at once and keeps them: with one shared
    # socket, the first worker to wake accepted nearly all of them (43 of 50).
    with ReferenceShop(workers=2, database_url=f"sqlite:///{tmp_path / 's.db'}") as shop:
        clients = [httpx.Client(base_url=shop.url) for _ in range(40)]
        try:
            with ThreadPoolExecutor(40) as pool:
                answers = list(pool.map(lambda c: c.get("/healthz").status_code, clients))
            assert answers == [200] * 40
            spread = connections_per_worker(shop)
            assert len(spread) == 2 and sum(spread.values()) == 40
            # Spread by the kernel's hash of the addresses: 20 each on average, below 8
            # about once in a thousand runs.
            assert min(spread.values()) >= 8, spread
        finally:
            for client in clients:
                client.close()


def replaced_and_serving(shop: ReferenceShop, gone: set[int]) -> None:
    """Wait until two workers serve again, none of them in ``gone``; then new connections
    reach both sockets (the replaced workers' included)."""
    deadline = time.monotonic() + 60
    while True:
        now = {worker.pid for worker in workers(shop)}
        if len(now) == 2 and not now & gone:
            break
        assert time.monotonic() < deadline, f"not replaced: {gone} -> {now}"
        time.sleep(0.1)
    for _ in range(40):
        assert httpx.get(f"{shop.url}/healthz", timeout=30).status_code == 200


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    with ReferenceShop(workers=2, database_url=f"sqlite:///{tmp_path / 's.db'}") as shop:
        before = {worker.pid for worker in workers(shop)}
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        replaced_and_serving(shop, {victim})
    assert "Traceback" not in shop.output()


def test_sighup_replaces_every_worker_and_the_server_keeps_answering(tmp_path: Path) -> None:
    with ReferenceShop(workers=2, database_url=f"sqlite:///{tmp_path / 's.db'}") as shop:
        before = {worker.pid for worker in workers(shop)}
        os.kill(shop.pid, signal.SIGHUP)  # the supervisor only, as `kill -HUP` would
        replaced_and_serving(shop, before)
    assert "Traceback" not in shop.output()


def test_a_port_taken_by_another_group_of_reuse_port_sockets_is_refused(
    tmp_path: Path,
) -> None:
    # The kernel would let a second multi-worker server join the first one's port and
    # take half its clients; serve must refuse instead.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve("--port", str(port), "--workers", "2",
                       "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


#: A harness that starts a server and ends without stopping it, as a killed one would.
ORPHANING_HARNESS = """
import os, sys
from conformance.reference_shop import ReferenceShop
shop = ReferenceShop(workers=int(sys.argv[1]), database_url=sys.argv[2]).start()
print(shop.pid, shop.url, flush=True)
os._exit(0)
"""


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # ended; nobody reaped it yet
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_whose_harness_ended_without_stopping_it_stops_itself(
    tmp_path: Path, workers: int
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", ORPHANING_HARNESS, str(workers), f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True, text=True, timeout=120, cwd=SCENARIO.parents[1], check=True,
    ).stdout
    pid, url = out.split()
    server = psutil.Process(int(pid))
    deadline = time.monotonic() + 20
    while not _gone(server):
        assert time.monotonic() < deadline, "the orphaned server is still running"
        time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):  # its workers are gone too: nobody listens
        httpx.get(f"{url}/healthz", timeout=2)


def test_a_scenarios_gateway_client_configures_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --scenario``: the profile's ``gateway_client`` becomes the server's
    ``--gateway-timeout`` and ``--gateway-retries`` (flags and variables still win)."""
    scenario = load_scenario(SCENARIO / "seed_001_order_checkout.yaml").with_overrides(
        {"profile.gateway_client": {"timeout": 1.5, "retries": 4}})
    path = write_scenario(tmp_path, scenario)
    environment, _ = scenario_environment(str(path))
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert (settings.gateway_timeout, settings.gateway_retries) == (1.5, 4)
