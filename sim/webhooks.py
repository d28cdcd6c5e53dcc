"""Webhook delivery (scenario ``faults.webhook``): at least once, with every fault.

Each event the gateway emits becomes one delivery process per copy:

* delay: every copy waits ``latency.webhook``; a share ``delay_rate`` of events waits an
  extra ``delay`` on top;
* duplicates: a share ``duplicate_rate`` of events is sent ``duplicates`` extra times, each
  copy on its own delay, so copies also overtake one another;
* reordering: a share ``reorder_rate`` of events is held back until the next event the
  gateway sends has made its first attempt (at most ``retry.max_delay``), then sent after
  it, like the gateway double's reorder window of two;
* drop-first: the first ``drop_first`` attempts of every copy are lost on the way;
* stale and forged signatures: each attempt is, with ``stale_rate`` / ``bad_signature_rate``,
  signed too long ago or with the wrong secret, and the shop answers 400;
* retries: a failed attempt is retried after ``initial_delay * multiplier ** (n - 1)``
  seconds (at most ``max_delay``), up to ``max_attempts``; then the copy is given up;
* the gateway sends nothing during an outage: an attempt due then waits for its end.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from reference_impl.domain.payment import PaymentEvent
from scenarios.schema import Scenario, WebhookFaults
from sim.gateway import Gateway
from sim.observations import Observations
from sim.shop import Shop
from sim.streams import RandomStreams


class WebhookSender:
    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        streams: RandomStreams,
        obs: Observations,
        shop: Shop,
        gateway: Gateway,
    ) -> None:
        self.env = env
        self.obs = obs
        self.shop = shop
        self.gateway = gateway
        self.faults = scenario.faults.webhook or WebhookFaults()
        latency = scenario.latency.webhook
        self._latency = (
            latency.sampler(streams["latency.webhook"]) if latency is not None else None
        )
        self._rng = streams["webhooks"]
        self._created: dict[str, float] = {}  # event id -> sim time, until first delivered
        self._release: simpy.Event | None = None  # what held events wait for
        self._holding = 0

    def emit(self, event: PaymentEvent) -> None:
        faults, rng = self.faults, self._rng
        self.obs.webhook_events += 1
        self._created[event.event_id] = self.env.now
        # A fixed number of draws per event keeps the stream aligned across policies.
        delayed, duplicated, reordered = rng.random(), rng.random(), rng.random()
        extra = 0.0
        if delayed < faults.delay_rate and faults.delay is not None:
            extra = faults.delay.sample(rng)
        copies = 1 + (faults.duplicates if duplicated < faults.duplicate_rate else 0)
        held = reordered < faults.reorder_rate
        for _ in range(copies):
            self.obs.webhook_copies += 1
            delay = extra + (self._latency() if self._latency else 0.0)
            self.env.process(self._deliver(event, delay, held))

    def _release_held(self) -> None:
        if self._holding and self._release is not None:
            self._release.succeed()
            self._release = None

    def _deliver(
        self, event: PaymentEvent, delay: float, held: bool
    ) -> Generator[simpy.Event, Any, None]:
        env, obs, faults = self.env, self.obs, self.faults
        retry = faults.retry
        if delay > 0.0:
            yield env.timeout(delay)
        if held:
            if self._release is None:
                self._release = env.event()
            self._holding += 1
            yield self._release | env.timeout(retry.max_delay)
            self._holding -= 1
        attempt = 0
        while True:
            outage_end = self.gateway.outage_end(env.now)
            if outage_end is not None:
                yield env.timeout(outage_end - env.now)
            attempt += 1
            obs.webhook_attempts += 1
            if attempt == 1 and not held:
                self._release_held()
            if attempt <= faults.drop_first:
                obs.webhook_dropped += 1
                answered = False
            else:
                stale = self._rng.random() < faults.stale_rate
                forged = self._rng.random() < faults.bad_signature_rate
                answered = yield from self.shop.receive_webhook(event, stale, forged)
            if answered:
                created = self._created.pop(event.event_id, None)
                if created is not None:
                    obs.webhook_lag.append((created, env.now - created))
                return
            if attempt >= retry.max_attempts:
                obs.webhook_gave_up += 1
                return
            backoff = retry.initial_delay * retry.multiplier ** (attempt - 1)
            yield env.timeout(min(backoff, retry.max_delay))
