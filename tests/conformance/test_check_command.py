"""``purchaseflow check`` as a user runs it: a subprocess, its exit status and its files."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conformance.broken_shops import other_buyers_order_readable
from tests.conformance.shops import ADMIN_TOKEN, WEBHOOK_SECRET, seed, served_shop

SEED_002 = str(seed("002"))


def check(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reference_impl.cli", "check", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def not_http() -> Iterator[str]:
    """A loopback port that answers like an SMTP server, not HTTP."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            connection.sendall(b"220 mail.example ESMTP\r\n")
            connection.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def test_unreachable_shop_is_exit_2_in_one_line() -> None:
    result = check("--url", "http://127.0.0.1:9", "--scenario", SEED_002)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "cannot connect" in result.stderr and "is the shop running?" in result.stderr


def test_a_port_that_does_not_speak_http_is_exit_2(not_http: str) -> None:
    result = check("--url", not_http, "--scenario", SEED_002)
    assert result.returncode == 2
    assert "does not speak HTTP" in result.stderr


def test_bad_options_are_exit_2() -> None:
    assert "unknown invariant" in check("--url", "http://127.0.0.1:9", "--only", "I99").stderr
    result = check("--url", "http://127.0.0.1:9", "--phases", "walks,dance")
    assert result.returncode == 2 and "unknown phase" in result.stderr


def test_setup_refused_is_exit_2(tmp_path: Path) -> None:
    with served_shop(seed("002"), tmp_path) as (url, gateway_port, smtp_port):
        result = check("--url", url, "--admin-token", "not-the-token", "--gateway-port",
                       str(gateway_port), "--smtp-port", str(smtp_port),
                       "--report-dir", str(tmp_path / "report"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refused the harness's setup" in result.stdout
    assert "<error" in (tmp_path / "report" / "junit.xml").read_text()


def test_violation_is_exit_1_with_a_report_and_a_replay_that_reproduces_it(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report"
    with served_shop(seed("002"), tmp_path, build=other_buyers_order_readable) as (
            url, gateway_port, smtp_port):
        result = check("--url", url, "--admin-token", ADMIN_TOKEN, "--webhook-secret",
                       WEBHOOK_SECRET, "--gateway-port", str(gateway_port), "--smtp-port",
                       str(smtp_port), "--phases", "walks", "--fail-fast", "--report-dir",
                       str(report), "--junit", str(tmp_path / "junit.xml"))
        assert result.returncode == 1, result.stdout + result.stderr
        assert "I8 Isolation" in result.stdout
        for name in ("report.md", "report.html", "report.json"):
            assert (report / name).is_file()
        assert 'name="I8 Isolation"' in (tmp_path / "junit.xml").read_text()
        steps = (report / "failures" / "I8" / "steps.md").read_text()
        assert "1. **create_cart**" in steps and "GET /orders/" in steps
        replay = subprocess.run([sys.executable, str(report / "failures" / "I8" / "replay.py")],
                                capture_output=True, text=True, timeout=60)
    assert replay.returncode == 1, replay.stdout + replay.stderr
    assert "FAILED I8" in replay.stdout
