"""The README opens with the two fresh-machine commands, and CI runs the test one verbatim."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_opens_with_the_main_job_and_the_tests() -> None:
    main_job, tests = readme_commands()
    for command in (main_job, tests):
        assert command.startswith("python3 -m venv .venv && ")  # installs everything itself
        assert "pip install" in command
    assert main_job.endswith("purchaseflow demo")
    assert "pytest" in tests and "'.[dev]'" in tests


def test_ci_runs_the_readme_test_command_exactly() -> None:
    _, tests = readme_commands()
    script = (ROOT / ".ci" / "run").read_text().splitlines()
    assert tests in script, "the README's test command must be a line of .ci/run"
    assert "PURCHASEFLOW_TEST_POSTGRES_URL" in "\n".join(script)
