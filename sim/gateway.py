"""The payment gateway (DESIGN.md section 4): latency, concurrency, declines and outages.

* ``call_api`` is the shop's call to create a checkout session or to charge: it may answer
  5xx (``create_error_rate``), never (``create_timeout_rate``), or after the shop's client
  gave up (queueing at the gateway and service together past
  ``profile.gateway_client.timeout``), and the client retries as the reference
  implementation's ``GatewayClient`` does (``profile.gateway_client``). The gateway does
  not know that a client gave up: a call still queued is served when its turn comes, and
  a call in service holds its slot to the end of its service time, so that retries pile
  onto a slow gateway as they do onto a real one (``gateway_abandoned`` counts that work).
  A call that is never answered holds its slot until the client hangs up.
* ``complete_payment`` is the buyer paying on the hosted page; the gateway decides
  success or decline and hands the event to webhook delivery (``sim.webhooks``).
* During an outage window every call fails at once with 503.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import simpy

from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome
from reference_impl.domain.trace import Actor, Msg
from scenarios.schema import Scenario
from sim.capacity import Station, Wait
from sim.observations import Observations
from sim.streams import RandomStreams

if TYPE_CHECKING:
    from sim.shop import Shop
    from sim.webhooks import WebhookSender

# The first pause of reference_impl.outbound.GatewayClient's retries (which sim may not
# import), doubled before each next try.
CLIENT_BACKOFF = 0.1


class Gateway:
    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: RandomStreams,
        obs: Observations,
        shop: Shop,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.obs = obs
        self.shop = shop
        faults = scenario.faults.gateway
        self.station = Station(
            env, "gateway", scenario.capacity.gateway_concurrency, scenario.latency.gateway,
            streams["latency.gateway"], window,
        )
        client = scenario.profile.gateway_client
        self._client_timeout, self._client_retries = client.timeout, client.retries
        self._outages = sorted((w.start, w.end) for w in faults.outages)
        self._timeout_rate = faults.create_timeout_rate
        self._failure_rate = faults.create_timeout_rate + faults.create_error_rate
        self._rng = streams["gateway"]
        self._event_ids = (f"evt{n}" for n in itertools.count())
        self.webhooks: WebhookSender | None = None  # hosted checkout only

    # -- availability -----------------------------------------------------------------------

    def outage_end(self, now: float) -> float | None:
        """When the outage ``now`` falls in ends; None when the gateway is up."""
        for start, end in self._outages:
            if start <= now < end:
                return end
        return None

    # -- the shop's calls ---------------------------------------------------------------------

    def call_api(self) -> Wait:
        """Create a checkout session or charge; returns whether the gateway answered 2xx."""
        env, timeout, station = self.env, self._client_timeout, self.station
        for attempt in range(self._client_retries + 1):
            if attempt:
                yield env.timeout(CLIENT_BACKOFF * 2 ** (attempt - 1))
            if self.outage_end(env.now) is not None:
                continue  # 503 at once
            deadline = env.now + timeout
            if not station.take() and not (yield from station.acquire_or_leave(timeout)):
                self.obs.gateway_abandoned += 1  # served later, for nobody
                continue
            roll = self._rng.random() if self._failure_rate else 1.0
            left = deadline - env.now
            if roll < self._timeout_rate:  # never answers: no service time drawn
                yield env.timeout(left)
                station.release()
                continue
            duration = station.service_time()
            if duration > left:  # answers after the client gave up
                self.obs.gateway_abandoned += 1
                station.release_after(duration)
                yield env.timeout(left)
                continue
            if duration > 0.0:
                yield env.timeout(duration)
            station.release()
            if roll < self._failure_rate:
                continue  # 5xx
            return True
        self.obs.gateway_errors += 1
        return False

    def outcome(self, declined: bool) -> PaymentOutcome:
        return PaymentOutcome.FAILED if declined else PaymentOutcome.SUCCEEDED

    # -- the buyer's payment on the hosted page --------------------------------------------------

    def complete_payment(self, order: Order, declined: bool, patience: float | None) -> Wait:
        """Returns the outcome, or None when the gateway is down."""
        env = self.env
        if self.outage_end(env.now) is not None:
            return None
        trace = self.shop.trace(order.cart_id)
        trace.send(Actor.BUYER, Actor.GATEWAY, Msg.COMPLETE_PAYMENT)
        station = self.station
        if not station.take():
            yield from station.acquire(patience)
        duration = station.service_time()
        if duration > 0.0:
            yield env.timeout(duration)
        station.release()
        outcome = self.outcome(declined)
        self.shop.trace(order.cart_id).reply(Actor.GATEWAY, Actor.BUYER, Msg.COMPLETE_PAYMENT)
        assert self.webhooks is not None  # hosted checkout always has webhooks
        self.webhooks.emit(
            PaymentEvent(
                event_id=next(self._event_ids),
                order_id=order.order_id,
                session_id=order.payment_session_id or "",
                outcome=outcome,
                amount=order.total,
                created=int(env.now),
            )
        )
        return outcome
