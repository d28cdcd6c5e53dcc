"""Each seed scenario against its stored summary (tests/sim/expected, see expected_summaries)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sim.conftest import SEED_FILES
from tests.sim.expected_summaries import REGENERATE, expected_path, summarise


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_seed_scenario_matches_its_stored_summary(path: Path) -> None:
    stored = expected_path(path)
    assert stored.exists(), f"no stored summary for {path.name}; run {REGENERATE}"
    expected = json.loads(stored.read_text())
    actual = json.loads(json.dumps(summarise(path)))  # the same JSON round trip as stored
    changed = {
        name: (expected["metrics"][name]["mean"], value["mean"])
        for name, value in actual["metrics"].items()
        if expected["metrics"].get(name) != value
    }
    assert not changed and actual == expected, (
        f"{path.name}: the summary changed (metric: (stored mean, new mean)) {changed}; "
        f"if the change is intended, regenerate with {REGENERATE}"
    )
