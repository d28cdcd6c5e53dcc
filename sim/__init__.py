"""The simulator: the purchase flow in virtual time with SimPy (DESIGN.md section 9).

    from scenarios import load_scenario
    from sim import Experiment, run_experiment, simulate

    one_run = simulate(load_scenario("scenarios/library/flash_sale_reserve.yaml"), seed=1)
    grid = run_experiment(Experiment(scenario, replications=30, compare=parse_axis(...)))

``docs/simulator.md`` is the architect's guide; ``purchaseflow sim --help`` the command.
"""

from sim.errors import SimulationError
from sim.experiment import Experiment, ExperimentResult, run_experiment
from sim.metrics import METRICS
from sim.model import RunResult, simulate
from sim.params import parse_axis
from sim.stats import Estimate, estimate, paired_difference

__all__ = [
    "METRICS",
    "Estimate",
    "Experiment",
    "ExperimentResult",
    "RunResult",
    "SimulationError",
    "estimate",
    "paired_difference",
    "parse_axis",
    "run_experiment",
    "simulate",
]
