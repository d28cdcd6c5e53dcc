"""Helpers for the scenario tests: the shipped files, and a way to write a broken one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SEED_FILES = sorted((SCENARIOS / "seeds").glob("*.yaml"))
LIBRARY_FILES = sorted((SCENARIOS / "library").glob("*.yaml"))
ALL_FILES = SEED_FILES + LIBRARY_FILES
SEED_001 = SCENARIOS / "seeds" / "seed_001_order_checkout.yaml"

#: A small valid scenario; tests break one thing in it at a time.
MINIMAL = """\
version: 1
profile:
  name: minimal
  policies:
    stock_commit: reserve
    reservation_ttl: 600
    payment_mode: hosted_checkout
    webhook_dialect: generic
    currency: EUR
catalog:
  locations:
    - {id: main}
  products:
    - id: widget
      name: Widget
      variants:
        - {id: widget, price: 1000}
  stock:
    - {variant: widget, location: main, quantity: 10}
buyers:
  population: 10
  arrivals:
    rate: 1.5
run:
  duration: 600
"""

WriteScenario = Callable[..., Path]


def line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` holding ``needle``: what a problem should point at."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def write_scenario(tmp_path: Path) -> WriteScenario:
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def minimal_with(**sections: object) -> str:
    """MINIMAL with whole top-level sections replaced or added (None removes one)."""
    data = yaml.safe_load(MINIMAL)
    for key, value in sections.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return yaml.safe_dump(data, sort_keys=False)
