"""How CI enforces style: ``mypy --strict`` on the pure core, ``mypy`` on every package
(the reference implementation, the simulator, the conformance and load suites, the
scenario format), and ``ruff check`` on the repo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _check(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}", pytrace=False)


def test_domain_passes_mypy_strict() -> None:
    _check("mypy", "--strict", "reference_impl/domain")


def test_every_package_passes_mypy() -> None:
    # One run for all: they import each other, and mypy analyses each module once.
    _check("mypy", "reference_impl", "sim", "conformance", "load", "scenarios")


def test_ruff_check_passes() -> None:
    _check("ruff", "check", "--output-format", "concise", ".")
