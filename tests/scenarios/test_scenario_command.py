"""``purchaseflow scenario validate | show | schema``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from scenarios.jsonschema_export import SCHEMA_PATH
from tests.scenarios.conftest import ALL_FILES, MINIMAL, ROOT, SEED_001, WriteScenario, line_of

PURCHASEFLOW = ROOT / ".venv" / "bin" / "purchaseflow"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(PURCHASEFLOW), "scenario", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "Traceback" not in result.stderr + result.stdout
    return result


def test_validate_ok_for_every_shipped_scenario() -> None:
    result = run("validate", *ALL_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"ok {path}" for path in ALL_FILES]


def test_validate_reports_each_problem_and_exits_1(write_scenario: WriteScenario) -> None:
    text = MINIMAL.replace("rate: 1.5", "rate: -3").replace("duration: 600", "duration: x")
    bad = write_scenario(text)
    result = run("validate", SEED_001, bad)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok {SEED_001}"
    rate, duration = line_of(text, "rate: -3"), line_of(text, "duration: x")
    assert lines[1] == f"{bad}:{rate}: buyers.arrivals.rate: expected a number >= 0, got -3"
    assert lines[2] == f"{bad}:{duration}: run.duration: expected a number, got 'x'"


def test_validate_exits_2_for_unreadable_or_not_yaml(
    write_scenario: WriteScenario, tmp_path: Path
) -> None:
    broken = write_scenario("version: 1\nprofile: [unclosed\n", "broken.yaml")
    missing = tmp_path / "missing.yaml"
    result = run("validate", broken, missing, SEED_001)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{broken}:3: not valid YAML")
    assert lines[1].startswith(f"{missing}: cannot read")
    assert lines[2] == f"ok {SEED_001}"


def test_show_summarises_and_draws_the_diagram() -> None:
    result = run("show", SEED_001)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    summary = ("seed-001-order-checkout", "on_payment", "headphones-black", "129.00 EUR")
    for words in (*summary, "Poisson 0.5/s", "decline_rate", "1001 x 10"):
        assert words in out, words
    assert "sequenceDiagram" in out
    assert "Database: Check item availability and prices" in out


def test_show_of_an_invalid_file_prints_the_problem(write_scenario: WriteScenario) -> None:
    bad = write_scenario(MINIMAL.replace("version: 1", "version: 2"))
    result = run("show", bad)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{bad}:1: version: unsupported version 2; this harness reads version 1"
    )


def test_schema_prints_the_committed_json_schema() -> None:
    result = run("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads(SCHEMA_PATH.read_text())


def test_missing_action_is_a_usage_error() -> None:
    result = run()
    assert result.returncode == 2
    assert "ACTION" in result.stderr or "required" in result.stderr
