from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.doubles.gateway import DEFAULT_SECRET, GatewayDouble

from .receiver import Receiver

# Short backoffs keep the retry tests to a fraction of a second.
FAST_DELIVERY = {
    "initial_backoff": 0.05,
    "max_backoff": 0.2,
    "attempt_timeout": 2.0,
    "max_attempts": 5,
}

StartGateway = Callable[..., GatewayDouble]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[GatewayDouble, Receiver]]:
    # One double and one receiver per test module, since starting and stopping a server
    # costs a few tenths of a second; ``gw`` and ``receiver`` hand them out blank.
    with Receiver() as receiver, GatewayDouble(delivery=FAST_DELIVERY) as gw:
        yield gw, receiver


@pytest.fixture
def gw(shared: tuple[GatewayDouble, Receiver]) -> GatewayDouble:
    """The module's gateway double: no faults, webhooks to ``receiver``, nothing logged."""
    double, receiver = shared
    double.set_faults({})
    double.configure_webhook(receiver.url, secret=DEFAULT_SECRET, dialect="generic")
    double.reset()
    receiver.reset()
    return double


@pytest.fixture
def receiver(shared: tuple[GatewayDouble, Receiver], gw: GatewayDouble) -> Receiver:
    return shared[1]


@pytest.fixture
def start_gateway() -> Iterator[StartGateway]:
    """Start a gateway double of one's own, with fast retries; stopped at teardown."""
    started: list[GatewayDouble] = []

    def start(**kwargs: Any) -> GatewayDouble:
        kwargs["delivery"] = {**FAST_DELIVERY, **kwargs.get("delivery", {})}
        double = GatewayDouble(**kwargs).start()
        started.append(double)
        return double

    yield start
    for double in reversed(started):
        double.stop()
