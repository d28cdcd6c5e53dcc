"""Declarative scenario files shared by the simulator, the load test and the conformance run.

    from scenarios import load_scenario
    scenario = load_scenario("scenarios/seeds/seed_001_order_checkout.yaml")
    scenario.policies()            # reference_impl.domain.policies.Policies
    scenario.load_diagram()        # the seed's sequence diagram (scenarios.diagrams)

The format is documented in ``docs/scenarios.md``; its JSON Schema is ``scenario.schema.json``.
"""

from scenarios.errors import Problem, ScenarioError, ScenarioFileError
from scenarios.loader import load_scenario
from scenarios.schema import FORMAT_VERSION, Scenario

__all__ = [
    "FORMAT_VERSION",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScenarioFileError",
    "load_scenario",
]
