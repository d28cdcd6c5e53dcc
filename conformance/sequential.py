"""Running the sequential checks: the directed walks, then Hypothesis' exploration.

Both drive the state machine of ``machine.py``. A failure keeps the shortest recording
seen for its invariant: Hypothesis shrinks a failing example by running smaller ones, and
the last (smallest) run that still fails is the one the report shows and the replay
script repeats.

Time is bounded: exploration stops generating when its deadline passes, and a shrink still
running then is cut short (the shortest failing run so far stands).
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import UnsatisfiedAssumption

from conformance.audit import Finding
from conformance.driver import Driver
from conformance.machine import InvariantViolation, build_machine
from conformance.recording import Recording, Step
from conformance.target import Target
from conformance.walkthroughs import WALKS


class BudgetExhausted(BaseException):
    """The run's time is up. A BaseException, so that nothing on the way mistakes it for a
    failure of the SUT; Hypothesis stops its run when it sees one."""


@dataclass
class FailureRecord:
    invariant: str
    findings: list[str]
    steps: list[Step]
    phase: str
    seed: int | None = None
    #: When this invariant was first seen failing (time.monotonic()).
    first_at: float = 0.0

    @property
    def length(self) -> int:
        return sum(1 for s in self.steps if s.number > 0)


@dataclass
class SequentialRun:
    target: Target
    #: The invariants this run checks (applicable and selected).
    checked: set[str]
    seed: int = 0
    max_examples: int | None = None
    #: Seconds for the exploration (walks are not counted: they are short and fixed).
    budget: float = 60.0
    step_count: int = 30
    email_timeout: float = 5.0
    liveness_grace: float = 10.0
    fail_fast: bool = False
    driver: Driver = field(init=False)
    supports: dict[str, bool] = field(default_factory=lambda: {"cancel": True, "price": True})
    silenced: set[str] = field(default_factory=set)
    failures: dict[str, FailureRecord] = field(default_factory=dict)
    tallies: Counter[str] = field(default_factory=Counter)
    examples: int = 0
    walks: list[dict[str, Any]] = field(default_factory=list)
    stopping: bool = False
    phase: str = "walks"
    _deadline: float | None = None

    def __post_init__(self) -> None:
        self.driver = Driver(self.target)
        self._machine = build_machine(self)

    # -- what the machine calls -----------------------------------------------------------------

    def before_example(self) -> None:
        self.check_budget()
        self.examples += 1

    def after_example(self, exercised: set[str]) -> None:
        self.tallies.update(exercised)

    def check_budget(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            self.stopping = True
            raise BudgetExhausted

    def record_failure(self, invariant: str, findings: list[Finding],
                       recording: Recording) -> None:
        steps = copy.deepcopy(recording.steps)
        record = FailureRecord(invariant, [str(f) for f in findings], steps, self.phase,
                               self.seed if self.phase == "exploration" else None,
                               time.monotonic())
        known = self.failures.get(invariant)
        # The shortest run wins; among equals the latest (Hypothesis' final, shrunk replay).
        if known is None or record.length <= known.length:
            if known is not None:
                record.first_at, record.phase = known.first_at, known.phase
            self.failures[invariant] = record

    # -- the two phases ---------------------------------------------------------------------------

    def run_walks(self) -> None:
        """Every walk the profile allows, each on a freshly reset shop."""
        hosted = self.target.policies.payment_mode.value == "hosted_checkout"
        for walk in WALKS:
            if walk.hosted_only and not hosted:
                continue
            if not set(walk.invariants) & self.checked:
                continue
            if self.fail_fast and self.failures:
                return
            started = time.monotonic()
            verdict = "passed"
            self.phase = f"walk: {walk.name}"
            machine: Any = self._machine()
            try:
                walk.run(machine)
                machine.teardown()
            except InvariantViolation as exc:
                verdict = f"failed: {exc.invariant}"
                machine.teardown()
            self.walks.append({"name": walk.name, "verdict": verdict,
                               "seconds": round(time.monotonic() - started, 3),
                               "steps": len(machine.recording.steps)})

    def explore(self) -> None:
        """Hypothesis' exploration until ``max_examples`` or the budget, whichever first."""
        if self.fail_fast and self.failures:
            return
        self.phase = "exploration"
        # Walks already showed these failing, with a short sequence: exploring further would
        # only find them again. Examples that stumble on them are discarded instead.
        self.silenced = set(self.failures)
        self._deadline = time.monotonic() + self.budget
        from hypothesis.stateful import get_state_machine_test

        test = get_state_machine_test(self._machine, settings=settings(
            max_examples=self.max_examples or 10_000,
            stateful_step_count=self.step_count,
            deadline=None,
            database=None,
            derandomize=False,
            # Explicit phases: shrinking is what makes the reported sequence minimal.
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
            report_multiple_bugs=not self.fail_fast,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            print_blob=False,
        ))
        test = hypothesis_seed(self.seed)(test)
        try:
            test()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            broken = [leaf for leaf in _leaves(exc) if not _expected(leaf)]
            if broken and not self.stopping:
                # Not a finding and not the budget: the harness or the SUT broke down.
                raise broken[0] from exc
        finally:
            self._deadline = None
            self.silenced = set()

    def close(self) -> None:
        self.driver.detach()


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _expected(exc: BaseException) -> bool:
    """Hypothesis' ways of reporting what the machine raised, or the budget running out."""
    from hypothesis.errors import HypothesisException

    return isinstance(exc, InvariantViolation | BudgetExhausted | UnsatisfiedAssumption
                      | HypothesisException)
