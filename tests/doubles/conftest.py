from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.doubles.gateway import GatewayDouble

from .receiver import Receiver

# Short backoffs keep the retry tests to a fraction of a second.
FAST_DELIVERY = {
    "initial_backoff": 0.05,
    "max_backoff": 0.2,
    "attempt_timeout": 2.0,
    "max_attempts": 5,
}

StartGateway = Callable[..., GatewayDouble]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def start_gateway() -> Iterator[StartGateway]:
    """Start a gateway double with fast retries; every one is stopped at teardown."""
    started: list[GatewayDouble] = []

    def start(**kwargs: Any) -> GatewayDouble:
        kwargs["delivery"] = {**FAST_DELIVERY, **kwargs.get("delivery", {})}
        double = GatewayDouble(**kwargs).start()
        started.append(double)
        return double

    yield start
    for double in reversed(started):
        double.stop()
