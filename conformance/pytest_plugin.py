"""The conformance suite as a pytest plugin, for teams that already live in pytest.

    pytest --purchaseflow-url=http://127.0.0.1:8000 \\
           --purchaseflow-scenario=scenarios/seeds/seed_001_order_checkout.yaml

adds one test per invariant (``purchaseflow::I1`` ... ``purchaseflow::C4``): passed,
failed (with the finding and where the minimal sequence is), or skipped (not applicable,
with the reason). The suite runs once, when the first of them runs. Every ``purchaseflow
check`` option is here as ``--purchaseflow-<option>``.

Without ``--purchaseflow-url`` the plugin only registers its options: it imports nothing
heavy and adds no tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.check_options import OPTIONS, CheckConfig

_REPORT_KEY = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("purchaseflow", "purchaseflow conformance suite")
    for name, kind, text in OPTIONS:
        flag = "--purchaseflow-" + name.replace("_", "-")
        if kind is bool:
            group.addoption(flag, action="store_true", default=None, help=text)
        else:
            group.addoption(flag, type=kind, default=None,
                            help=text.replace("%(default)s", str(getattr(
                                CheckConfig(url=""), name))))


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("purchaseflow_url", default=None))


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    if not _enabled(config):
        return
    from conformance.invariants import INVARIANTS

    suite = SuiteNode.from_parent(session, name="purchaseflow", nodeid="purchaseflow")
    for invariant in INVARIANTS:
        items.append(InvariantItem.from_parent(suite, name=invariant, invariant=invariant))


class SuiteNode(pytest.Collector):
    """The parent of the invariants' tests, so that they are ``purchaseflow::I1``..."""

    def collect(self) -> list[pytest.Item]:
        return []


def _report(config: pytest.Config) -> Any:
    """Run the suite once per session; every invariant's test reads the same report."""
    if _REPORT_KEY not in config.stash:
        from conformance.check_options import HarnessError, config_from
        from conformance.check_run import run_check

        values = {name: config.getoption(f"purchaseflow_{name}") for name, _, _ in OPTIONS}
        try:
            config.stash[_REPORT_KEY] = run_check(config_from(values))
        except HarnessError as exc:
            config.stash[_REPORT_KEY] = exc
    return config.stash[_REPORT_KEY]


class InvariantFailed(AssertionError):
    pass


class InvariantItem(pytest.Item):
    def __init__(self, *, invariant: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.invariant = invariant

    def runtest(self) -> None:
        report = _report(self.config)
        if isinstance(report, Exception):
            pytest.fail(f"purchaseflow check could not run: {report}", pytrace=False)
        if report.errors:
            pytest.fail(f"purchaseflow check: harness error: {report.errors[0]}", pytrace=False)
        verdict = report.verdicts[self.invariant]
        if verdict.status == "not applicable":
            pytest.skip(f"{self.invariant} not applicable: {verdict.reason}")
        if verdict.status == "failed":
            where = report.files.get("markdown")
            raise InvariantFailed("\n".join(
                [f"{verdict.invariant} {verdict.title} violated ({verdict.examples} examples)"]
                + verdict.findings + [f"evidence: {e}" for e in verdict.evidence]
                + ([f"report: {where}"] if where else [])))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, InvariantFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"purchaseflow {self.invariant}"
