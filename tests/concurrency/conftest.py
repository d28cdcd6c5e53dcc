"""Fixtures of the concurrency tests: the doubles a real server talks to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.doubles.gateway import GatewayDouble
from conformance.doubles.mailsink import MailSink
from tests.support.servers import Doubles
from tests.support.shop import WEBHOOK_SECRET


@pytest.fixture
def doubles() -> Iterator[Doubles]:
    with GatewayDouble(secret=WEBHOOK_SECRET) as gateway, MailSink() as sink:
        yield gateway, sink
