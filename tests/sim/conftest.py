"""Scenarios for the simulator's tests, cut down so that the whole folder runs in about a
minute on two cores: shorter runs, fewer buyers, few replications."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scenarios import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "scenarios" / "seeds"
LIBRARY = ROOT / "scenarios" / "library"
SEED_FILES = sorted(SEEDS.glob("seed_*.yaml"))
PURCHASEFLOW = ROOT / ".venv" / "bin" / "purchaseflow"


def seed_scenario(number: str, **overrides: Any) -> Scenario:
    (path,) = SEEDS.glob(f"seed_{number}_*.yaml")
    return shortened(load_scenario(path), **overrides)


def library_scenario(name: str, **overrides: Any) -> Scenario:
    return shortened(load_scenario(LIBRARY / f"{name}.yaml"), **overrides)


def shortened(scenario: Scenario, **overrides: Any) -> Scenario:
    """``overrides`` use ``__`` for the dots of a path: ``run__duration=600``."""
    return scenario.with_overrides({k.replace("__", "."): v for k, v in overrides.items()})


def small_flash_sale(policy: str = "reserve", **overrides: Any) -> Scenario:
    """The flash sale at a fifth of its size: 400 buyers in 10 s for 20 units."""
    return library_scenario(
        f"flash_sale_{policy}",
        **{
            "buyers__arrivals__bursts": [{"at": 10, "buyers": 400, "over": 10}],
            "catalog__stock": [{"variant": "console-le", "location": "main", "quantity": 20}],
            "run__duration": 200,
            **overrides,
        },
    )


def write_scenario(directory: Path, scenario: Scenario, name: str = "scenario.yaml") -> Path:
    """``scenario`` as a file the CLI can load (no diagram: its path would be relative)."""
    import yaml

    data = scenario.model_dump(mode="json", exclude_unset=True, exclude={"diagram"})
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
