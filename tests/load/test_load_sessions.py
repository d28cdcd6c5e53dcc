"""The users' Markov chain: every session kind's funnel side by side, joined at ``leave``,
whence the next session's kind is drawn with the mix's weights.

``load.funnel`` imports Locust, which patches the process it is imported in: the chain is
built and read in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_READ_CHAIN = """
import json, sys
from collections import Counter
from load.adapters import build_adapter
from load.config import LoadConfig
from load.funnel import FlowContext, session_class
from load.metrics import RunMetrics
from scenarios import load_scenario
config = LoadConfig(url="http://127.0.0.1:9", scenario=sys.argv[1], mix=sys.argv[2] or None)
ctx = FlowContext(config, load_scenario(config.scenario),
                  build_adapter(config.adapter, config.url, config.admin_token), RunMetrics())
cls = session_class(ctx)
# Locust expands each state's transitions into a list, a name per unit of weight.
states = {name: dict(Counter(state.transitions)) for name, state in vars(cls).items()
          if getattr(state, "__name__", None) == name and hasattr(state, "transitions")}
print(json.dumps({"states": states, "mix": ctx.mix, "chains": ctx.chains}))
"""


@pytest.mark.parametrize("mix", ["", "browsing", "ordering"])
def test_leave_draws_each_kind_with_the_mix_weight_and_each_kind_keeps_its_funnel(
    mix: str,
) -> None:
    scenario = ROOT / "scenarios/library/steady_mix.yaml"
    done = subprocess.run([sys.executable, "-c", _READ_CHAIN, str(scenario), mix], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout.splitlines()[-1])
    states, chains = found["states"], found["chains"]

    def named(kind: str, state: str) -> str:
        return state if state == "leave" else f"{kind}_{state}"

    assert states["leave"] == {named(kind, next(iter(chains[kind]))): weight
                               for kind, weight in found["mix"].items()}
    expected = {"leave"} | {named(kind, state) for kind in found["mix"]
                            for state in chains[kind]}
    assert set(states) == expected
    for kind in found["mix"]:
        for state, transitions in chains[kind].items():
            if state != "leave":
                assert states[named(kind, state)] == {
                    named(kind, to): weight for to, weight in transitions.items()}
