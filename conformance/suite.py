"""The conformance suite: every phase against one SUT, and the report.

    from conformance.suite import run_suite
    report = run_suite(adapter, "scenarios/seeds/seed_001_order_checkout.yaml",
                       webhook_secret="whsec_...", gateway=gateway, mailbox=sink,
                       budget=60, report_dir="conformance-report")
    report.exit_code      # 0 passed, 1 an invariant violated, 2 harness or SUT failure

Phases, in order (each can be chosen with ``phases=``):

1. ``walks``: the directed walks through the state machine (``walkthroughs.py``);
2. ``races``: the scheduled races, recorded as histories (``races.py``);
3. ``schema``: Schemathesis against the OpenAPI document (``schema_checks.py``);
4. ``exploration``: Hypothesis' exploration of the state machine (``sequential.py``).

The budget is shared out: the walks and races take what they take (a few seconds; the
expiry race waits out the TTL), the schema checks get a third of the budget, and the
exploration gets what is left.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.adapters.base import AdapterError, Mailbox, ShopAdapter
from conformance.check_options import CANONICAL, DEFAULT_BUDGET, PHASES
from conformance.doubles.gateway import GatewayDouble
from conformance.invariants import CONTRACT_CHECKS, INVARIANTS, not_applicable
from conformance.races import RaceResult, Races
from conformance.replay import write_replay_script
from conformance.report import FAILED, NOT_APPLICABLE, PASSED, Report, Verdict, steps_markdown
from conformance.schema_checks import NoDocument, SchemaResult, run_schema_checks
from conformance.sequential import SequentialRun
from conformance.target import CONFORMANCE_STOCK, Target
from scenarios import Scenario, load_scenario

#: Share of the budget the schema checks get (the exploration gets the rest).
SCHEMA_SHARE = 1 / 3
#: Even a tiny budget gives the schema checks and the exploration this much each.
MIN_PHASE_SECONDS = 3.0


@dataclass
class SuiteOptions:
    budget: float = DEFAULT_BUDGET
    max_examples: int | None = None
    seed: int = 0
    only: tuple[str, ...] | None = None
    phases: tuple[str, ...] = PHASES
    fail_fast: bool = False
    schema_examples: int = 20
    email_timeout: float = 5.0


def run_suite(adapter: ShopAdapter, scenario: Scenario | str | Path, *,
              webhook_secret: str, gateway: GatewayDouble | None = None,
              mailbox: Mailbox | None = None, via_gateway: bool | None = None,
              budget: float = DEFAULT_BUDGET, max_examples: int | None = None, seed: int = 0,
              only: Iterable[str] | None = None, phases: Iterable[str] = PHASES,
              fail_fast: bool = False, email_timeout: float = 5.0,
              report_dir: str | Path | None = None,
              junit: str | Path | None = None, target_name: str | None = None,
              adapter_spec: str = CANONICAL, admin_token: str | None = None,
              replay_doubles: dict[str, Any] | None = None) -> Report:
    """Check ``adapter``'s shop against ``scenario``'s profile; write the report if asked.

    ``via_gateway`` (default: when a gateway double is given): real payments complete at the
    double, which calls the shop's webhook; otherwise the harness delivers them itself.
    ``replay_doubles`` tells the replay scripts where the shop expects its gateway and mail
    sink (``gateway_port``/``gateway_url``, ``smtp_port``/``mail_url``).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    target = Target(adapter, scenario, webhook_secret, gateway=gateway, mailbox=mailbox,
                    via_gateway=gateway is not None if via_gateway is None else via_gateway)
    options = SuiteOptions(budget=budget, max_examples=max_examples, seed=seed,
                           only=tuple(only) if only is not None else None,
                           phases=tuple(phases), fail_fast=fail_fast,
                           email_timeout=email_timeout)
    url = str(getattr(adapter, "base_url", ""))
    replay_config = {"url": None if getattr(adapter.transport, "app", None) else url,
                     "adapter": adapter_spec, "admin_token": admin_token,
                     "webhook_secret": webhook_secret,
                     "scenario": str(Path(scenario.source).resolve()) if scenario.source
                     else None, "stock_cap": CONFORMANCE_STOCK, **(replay_doubles or {})}
    return Suite(target, options, target_name or url or "in process", replay_config).run(
        Path(report_dir) if report_dir else None, Path(junit) if junit else None)


class Suite:
    def __init__(self, target: Target, options: SuiteOptions, name: str,
                 replay_config: dict[str, Any]) -> None:
        self.target, self.options, self.name = target, options, name
        self.replay_config = replay_config
        scenario = target.scenario
        self.skipped = not_applicable(scenario, options.only)
        self.checked = {i for i in INVARIANTS if i not in self.skipped}
        self.examples: Counter[str] = Counter()
        self.caught: dict[str, tuple[str, float, list[str], list[str]]] = {}
        self.exercise_notes: dict[str, str] = {}
        self.races: list[RaceResult] = []
        self.schema: SchemaResult | None = None
        self.sequential: SequentialRun | None = None
        self.report = Report(name, str(scenario.source or scenario.profile.name),
                             scenario.profile.name, options.seed)

    def _stop(self) -> bool:
        return self.options.fail_fast and bool(self.caught)

    def _catch(self, invariant: str, by: str, at: float, findings: list[str],
               evidence: list[str] | None = None) -> None:
        if invariant not in self.checked:
            return
        if invariant not in self.caught:
            self.caught[invariant] = (by, at - self.started, findings, evidence or [])
        else:
            known = self.caught[invariant]
            self.caught[invariant] = (known[0], known[1], known[2], known[3] + (evidence or []))

    # -- phases ------------------------------------------------------------------------------

    def run(self, folder: Path | None, junit: Path | None) -> Report:
        self.started = time.monotonic()
        self.folder = folder
        options = self.options
        try:
            self.target.reset()  # reachable, speaking HTTP, accepting the harness's setup
            self.sequential = SequentialRun(
                self.target, self.checked, seed=options.seed,
                max_examples=options.max_examples, email_timeout=options.email_timeout,
                fail_fast=options.fail_fast)
            if "walks" in options.phases:
                self._walks()
            if "races" in options.phases and not self._stop():
                self._races()
            if "schema" in options.phases and not self._stop():
                self._schema()
            if "exploration" in options.phases and not self._stop():
                self._explore()
        except AdapterError as exc:
            self.report.errors.append(_explain(exc))
        except Exception as exc:  # the harness itself, or an answer it could not read
            self.report.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            if self.sequential is not None:
                self.sequential.close()
        self._verdicts()
        self.report.seconds = time.monotonic() - self.started
        if folder is not None:
            self._write(folder, junit)
        return self.report

    def _walks(self) -> None:
        assert self.sequential is not None
        started = time.monotonic()
        self.sequential.run_walks()
        self._absorb_sequential()
        self.report.phases.append({
            "name": "walks", "seconds": round(time.monotonic() - started, 2),
            "walks": len(self.sequential.walks),
            "details": [f"{w['name']}: {w['verdict']} ({w['steps']} steps, {w['seconds']} s)"
                        for w in self.sequential.walks]})

    def _explore(self) -> None:
        assert self.sequential is not None
        started = time.monotonic()
        remaining = self.options.budget - (started - self.started)
        self.sequential.budget = max(MIN_PHASE_SECONDS, remaining)
        before = self.sequential.examples
        self.sequential.explore()
        self._absorb_sequential()
        self.report.phases.append({
            "name": "exploration (Hypothesis)", "seconds": round(time.monotonic() - started, 2),
            "examples": self.sequential.examples - before, "seed": self.options.seed,
            "steps per example": self.sequential.step_count})

    def _absorb_sequential(self) -> None:
        assert self.sequential is not None
        self.examples.update(self.sequential.tallies)
        self.sequential.tallies.clear()
        for invariant, record in self.sequential.failures.items():
            self._catch(invariant, record.phase, record.first_at, record.findings)

    def _races(self) -> None:
        started = time.monotonic()
        races = Races(self.target, email_timeout=self.options.email_timeout)
        window = self.target.expiry_window
        for race in (races.last_units, races.duplicate_webhooks, races.same_key_orders,
                     lambda: races.payment_against_expiry(window)):
            if self._stop():
                break
            began = time.monotonic()
            result = race()
            result.seconds = time.monotonic() - began
            self.races.append(result)
            if result.skipped:
                if "expiry" in result.name and "TTL" in result.skipped:
                    self.exercise_notes.setdefault(
                        "I11", f"checked as orders leaving pending_payment when paid; the "
                               f"expiry itself was not waited out: {result.skipped}")
                continue
            self.examples.update(i for i in result.invariants if i in self.checked)
            for finding in result.findings:
                self._catch(finding.invariant, f"race: {result.name}", time.monotonic(),
                            [str(f) for f in result.findings if f.invariant ==
                             finding.invariant], [f"histories/{_slug(result.name)}.jsonl"])
        self.report.phases.append({
            "name": "races", "seconds": round(time.monotonic() - started, 2),
            "details": [f"{r.name}: " + (f"skipped ({r.skipped})" if r.skipped else
                        f"{len(r.findings)} findings, {len(r.history.ops) if r.history else 0}"
                        f" history entries, {json.dumps(r.summary, default=str)}")
                        for r in self.races]})

    def _schema(self) -> None:
        started = time.monotonic()
        budget = max(MIN_PHASE_SECONDS, self.options.budget * SCHEMA_SHARE)
        self.target.reset()
        examples = min(self.options.max_examples or self.options.schema_examples,
                       self.options.schema_examples)
        try:
            result = self.schema = run_schema_checks(
                self.target, checked=self.checked, seed=self.options.seed,
                max_examples=examples, budget=budget, fail_fast=self.options.fail_fast)
        except NoDocument as exc:
            for invariant in CONTRACT_CHECKS:
                self.exercise_notes[invariant] = f"no OpenAPI document to check: {exc}"
            self.report.phases.append({"name": "schema (Schemathesis)", "skipped": str(exc)})
            return
        self.examples.update(result.examples)
        for finding in result.findings:
            self._catch(finding.invariant, "schema", finding.at,
                        [f"{f.operation}: {f.title} ({f.check})" for f in result.findings
                         if f.invariant == finding.invariant],
                        [f"failures/{finding.invariant}/schema.md"])
        self.report.phases.append({
            "name": "schema (Schemathesis)", "seconds": round(time.monotonic() - started, 2),
            "document": result.document, "test cases": result.cases,
            "findings": len(result.findings),
            "details": [f"{k}: {v}" for k, v in result.phases.items()] + result.errors})
        if result.errors and not result.cases:
            raise RuntimeError(f"Schemathesis could not test the shop: {result.errors[0]}")

    # -- verdicts and files -------------------------------------------------------------------

    def _verdicts(self) -> None:
        for invariant in INVARIANTS:
            if invariant in self.skipped:
                self.report.verdicts[invariant] = Verdict(invariant, NOT_APPLICABLE,
                                                          reason=self.skipped[invariant])
                continue
            examples = self.examples.get(invariant, 0)
            if invariant in self.caught:
                by, seconds, findings, evidence = self.caught[invariant]
                self.report.verdicts[invariant] = Verdict(
                    invariant, FAILED, examples, findings=findings, evidence=evidence,
                    caught_by=by, seconds_to_catch=round(seconds, 3))
            elif examples:
                # A note says what this run could not reach (I11's expiry under a long TTL).
                self.report.verdicts[invariant] = Verdict(
                    invariant, PASSED, examples, reason=self.exercise_notes.get(invariant))
            else:
                reason = self.exercise_notes.get(invariant) or (
                    "not exercised in this run" if not self.report.errors
                    else "the run stopped before reaching it")
                self.report.verdicts[invariant] = Verdict(invariant, NOT_APPLICABLE,
                                                          reason=reason)

    def _write(self, folder: Path, junit: Path | None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.sequential is not None:
            for invariant, record in self.sequential.failures.items():
                if invariant not in self.checked:
                    continue
                where = folder / "failures" / invariant
                where.mkdir(parents=True, exist_ok=True)
                replay = where / "replay.py"
                write_replay_script(replay, invariant=invariant, finding=record.findings[0],
                                    steps=record.steps, config=self.replay_config)
                (where / "steps.md").write_text(steps_markdown(
                    invariant, record.findings, record.steps, str(replay.relative_to(folder))))
                (where / "steps.json").write_text(json.dumps(
                    [s.to_json() for s in record.steps], indent=1, default=str))
                verdict = self.report.verdicts.get(invariant)
                if verdict is not None and verdict.status == FAILED:
                    verdict.evidence[:0] = [f"failures/{invariant}/steps.md",
                                            f"failures/{invariant}/replay.py"]
        for race in self.races:
            if race.history is not None and race.history.ops:
                race.history.save(folder / "histories" / f"{_slug(race.name)}.jsonl")
        if self.schema is not None:
            schema_dir = folder / "schema"
            schema_dir.mkdir(parents=True, exist_ok=True)
            (schema_dir / "findings.json").write_text(json.dumps(
                [f.to_json() for f in self.schema.findings], indent=1, default=str))
            by_invariant: dict[str, list[Any]] = {}
            for finding in self.schema.findings:
                by_invariant.setdefault(finding.invariant, []).append(finding)
            for invariant, findings in by_invariant.items():
                where = folder / "failures" / invariant
                where.mkdir(parents=True, exist_ok=True)
                lines = [f"# {invariant}: Schemathesis findings", ""]
                for f in findings:
                    lines += [f"## {f.operation}: {f.title} (`{f.check}`, {f.phase})", "",
                              f.message, "", "```", f.reproduce, "```", ""]
                (where / "schema.md").write_text("\n".join(lines))
        self.report.write(folder, junit)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def _explain(exc: AdapterError) -> str:
    """One line a QA engineer can act on."""
    text = str(exc)
    if "ConnectError" in text or "Connection refused" in text:
        return f"cannot connect to the shop: {text} (is it running on that URL?)"
    if "RemoteProtocolError" in text or "ReadError" in text or "LocalProtocolError" in text:
        return f"the shop does not speak HTTP: {text}"
    if "Timeout" in text:
        return f"the shop did not answer in time: {text}"
    if "refused" in text:
        return f"the shop refused the harness's setup: {text} (check --admin-token)"
    return text
