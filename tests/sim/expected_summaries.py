"""Stored summaries of the seed scenarios, compared by ``test_sim_expected.py`` the way
SimPy's own examples are compared with their ``.out`` files: fixed seed in, summary out.

After a deliberate change of the model, look at the difference the test shows, then
regenerate the files and commit them with the change:

    .venv/bin/python -m tests.sim.expected_summaries
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from scenarios import load_scenario
from sim import Experiment, run_experiment
from sim.report import summary_json

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected"
SEEDS = HERE.parents[1] / "scenarios" / "seeds"
REGENERATE = ".venv/bin/python -m tests.sim.expected_summaries"
#: Short runs, so that the five take a few seconds: 15 minutes of arrivals after 1 of warm-up.
OVERRIDES: dict[str, Any] = {"run.duration": 900, "run.warmup": 60}
REPLICATIONS = 3
SEED = 20240501


def _rounded(value: Any) -> Any:
    # Nine significant digits: immune to the last bits of a libm, not to any change of
    # behaviour (a change of behaviour moves whole counts).
    if isinstance(value, float):
        return value if math.isnan(value) or value == 0 else float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def summarise(path: Path) -> dict[str, Any]:
    scenario = load_scenario(path).with_overrides(OVERRIDES)
    result = run_experiment(Experiment(scenario, replications=REPLICATIONS, seed=SEED))
    summary = summary_json(result)
    rounded: dict[str, Any] = _rounded({
        "scenario": path.name,
        "overrides": OVERRIDES,
        "seed": SEED,
        "replications": REPLICATIONS,
        "metrics": summary["points"][0]["metrics"],
        "violations": summary["violations"],
    })
    return rounded


def expected_path(path: Path) -> Path:
    return EXPECTED / f"{path.stem}.json"


def main() -> None:
    EXPECTED.mkdir(exist_ok=True)
    for path in sorted(SEEDS.glob("seed_*.yaml")):
        target = expected_path(path)
        target.write_text(json.dumps(summarise(path), indent=1, sort_keys=True) + "\n")
        print(f"wrote {target.relative_to(HERE.parents[1])}")


if __name__ == "__main__":
    main()
