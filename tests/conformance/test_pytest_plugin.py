"""The pytest plugin: inert without its option; with it, one test per invariant."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conformance.broken_shops import other_buyers_order_readable
from tests.conformance.shops import ADMIN_TOKEN, WEBHOOK_SECRET, seed, served_shop


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_theirs.py").write_text("def test_their_own():\n    assert True\n")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                           *args], cwd=folder, capture_output=True, text=True, timeout=180)


def test_without_its_option_the_plugin_adds_nothing(tmp_path: Path) -> None:
    result = pytest_in(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "1 passed" in result.stdout and "purchaseflow" not in result.stdout


def test_with_a_url_each_invariant_is_a_test(tmp_path: Path) -> None:
    with served_shop(seed("002"), tmp_path, build=other_buyers_order_readable) as (
            url, gateway_port, smtp_port):
        result = pytest_in(
            tmp_path, f"--purchaseflow-url={url}", f"--purchaseflow-scenario={seed('002')}",
            f"--purchaseflow-admin-token={ADMIN_TOKEN}",
            f"--purchaseflow-webhook-secret={WEBHOOK_SECRET}",
            f"--purchaseflow-gateway-port={gateway_port}",
            f"--purchaseflow-smtp-port={smtp_port}", "--purchaseflow-phases=walks",
            f"--purchaseflow-report-dir={tmp_path / 'report'}")
    out = result.stdout
    assert result.returncode == 1, out
    assert "FAILED purchaseflow::I8" in out, out
    assert "I8 Isolation violated" in out
    # Synchronous profile: the webhook invariants are skipped with the reason; the
    # contract checks did not run (walks only); everything else passed.
    assert "synchronous payment: the profile has no webhooks" in out
    assert "1 failed" in out and "passed" in out and "skipped" in out
    assert (tmp_path / "report" / "report.md").is_file()
