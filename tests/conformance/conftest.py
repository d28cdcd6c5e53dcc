"""Fixtures of the conformance tests: one gateway double and one mail sink for the session
(every in-process shop calls them), and in-process targets of the reference implementation
or of a variant of it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from conformance.target import Target
from tests.conformance.shops import WEBHOOK_SECRET, in_process_target

TargetFactory = Callable[..., AbstractContextManager[Target]]


@pytest.fixture(scope="session")
def gateway() -> Iterator[GatewayDouble]:
    with GatewayDouble(secret=WEBHOOK_SECRET) as double:
        yield double


@pytest.fixture(scope="session")
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def make_target(tmp_path: Path, gateway: GatewayDouble, mail: MailSink) -> TargetFactory:
    """``with make_target(seed_path, build=..., **settings) as target:``"""

    def make(scenario_path: Path, **kwargs: Any) -> AbstractContextManager[Target]:
        return in_process_target(scenario_path, tmp_path, gateway, mail, **kwargs)

    return make


@pytest.fixture(autouse=True)
def _quiet_shop_errors() -> Iterator[None]:
    # Broken shops raise on purpose; their tracebacks would only bury the test output.
    logging.getLogger("purchaseflow.http").disabled = True
    logging.getLogger("purchaseflow.conformance").disabled = True
    yield
    logging.getLogger("purchaseflow.http").disabled = False
    logging.getLogger("purchaseflow.conformance").disabled = False
