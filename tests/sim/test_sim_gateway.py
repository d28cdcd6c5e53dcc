"""The simulated gateway under a client that times out (``sim.gateway``): the gateway never
learns that the shop's client gave up, so abandoned calls keep their slot to the end of
their service, queued ones are still served, and the retries pile on."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
import simpy

from sim.gateway import CLIENT_BACKOFF, Gateway
from sim.observations import Observations
from sim.streams import RandomStreams
from tests.sim.conftest import seed_scenario


def gateway(service: float, concurrency: int, timeout: float, retries: int) -> Gateway:
    scenario = seed_scenario(
        "002", latency__gateway={"dist": "fixed", "value": service},
        capacity__gateway_concurrency=concurrency,
        profile__gateway_client={"timeout": timeout, "retries": retries},
    )
    env = simpy.Environment()
    return Gateway(env, scenario, RandomStreams.for_replication(1, 0), Observations(),
                   shop=None, window=(0.0, float("inf")))  # type: ignore[arg-type]


def call(gw: Gateway, answers: list[tuple[float, bool]]) -> Generator[simpy.Event, Any, None]:
    answered = yield from gw.call_api()
    answers.append((gw.env.now, answered))


def test_a_call_the_client_gave_up_on_holds_the_gateway_to_the_end_of_its_service() -> None:
    """One slot, 6 s a call, a client that waits 5 s and tries three times: each try
    queues behind the previous, abandoned one, which the gateway serves to its end."""
    gw = gateway(service=6.0, concurrency=1, timeout=5.0, retries=2)
    answers: list[tuple[float, bool]] = []
    gw.env.process(call(gw, answers))
    gw.env.run()
    second = 5.0 + CLIENT_BACKOFF
    third = second + 5.0 + 2 * CLIENT_BACKOFF
    assert answers == [(pytest.approx(third + 5.0), False)]
    # Served one after another for 6 s each: the slot is busy until 18 s, not 15.
    assert gw.env.now == pytest.approx(18.0)
    assert gw.station.busy_mean() * gw.env.now == pytest.approx(18.0)
    assert gw.obs.gateway_abandoned == 3 and gw.obs.gateway_errors == 1
    # The second and third tries queued: behind the first until 6 s, the second until 12.
    assert gw.station.delayed == 2
    assert gw.station.wait_sum == pytest.approx((6.0 - second) + (12.0 - third))


def test_a_call_served_past_the_clients_timeout_is_a_timeout_and_served_to_the_end() -> None:
    """Two slots, 4 s a call, a client that waits 5 s: a third caller queues behind two,
    is served from 4 s and would be answered at 8 s, but its client gave up at 5 s. The
    gateway serves it to the end all the same, and the retry takes the other slot."""
    gw = gateway(service=4.0, concurrency=2, timeout=5.0, retries=1)
    answers: list[tuple[float, bool]] = []
    for _ in range(3):
        gw.env.process(call(gw, answers))
    gw.env.run()
    first_two = [(pytest.approx(4.0), True), (pytest.approx(4.0), True)]
    retry = 5.0 + CLIENT_BACKOFF  # a slot is free again: served from 5.1 to 9.1
    assert answers == [*first_two, (pytest.approx(retry + 4.0), True)]
    assert gw.obs.gateway_abandoned == 1 and gw.obs.gateway_errors == 0
    # Busy time: two calls of 4 s, the abandoned one (4 to 8) and the retry (5.1 to 9.1).
    assert gw.station.busy_mean() * gw.env.now == pytest.approx(16.0)


def test_a_call_still_queued_when_the_client_gives_up_is_served_later_for_nobody() -> None:
    """One slot, 6 s a call, a client that waits 2 s: the first try is abandoned in
    service, the retry while still queued behind it; the gateway serves both, to 12 s."""
    gw = gateway(service=6.0, concurrency=1, timeout=2.0, retries=1)
    answers: list[tuple[float, bool]] = []
    gw.env.process(call(gw, answers))
    gw.env.run()
    retry = 2.0 + CLIENT_BACKOFF
    assert answers == [(pytest.approx(retry + 2.0), False)]
    assert gw.env.now == pytest.approx(12.0)
    assert gw.station.busy_mean() * gw.env.now == pytest.approx(12.0)
    assert gw.obs.gateway_abandoned == 2
    assert gw.station.delayed == 1 and gw.station.wait_sum == pytest.approx(6.0 - retry)


def test_the_same_gateway_answers_a_patient_client_on_the_first_try() -> None:
    gw = gateway(service=6.0, concurrency=1, timeout=7.0, retries=2)
    answers: list[tuple[float, bool]] = []
    gw.env.process(call(gw, answers))
    gw.env.run()
    assert answers == [(pytest.approx(6.0), True)]
    assert gw.obs.gateway_abandoned == 0
