"""Webhook delivery: signed, at least once, retried with backoff, with the webhook faults.

One ``Dispatcher`` runs as an asyncio task on the server's event loop. Each webhook event
becomes one ``Delivery`` per copy (the duplicates fault); deliveries are sent in batches:

* an ordinary event is one batch, its copies sent one after another, or all at once when
  the duplicates are ``concurrent``;
* the reorder fault holds events until ``window`` of them wait (or ``max_hold_seconds``
  passed) and releases them as one batch in reverse or shuffled order, sent strictly one
  after another so that the new order is the order on the wire;
* a failed attempt puts its delivery back alone, due after its backoff.

Each attempt is signed at the moment it is sent, as Stripe does (so a retry carries a
fresh timestamp), and recorded in the ledger with its status or error and outcome:
``delivered`` (2xx), ``failed`` (non-2xx, connection error, timeout), or ``dropped`` (the
drop-first fault: nothing was sent). After ``max_attempts`` a ``delivery.gave_up`` entry
follows. Pending deliveries are written to the store before their first attempt and
removed only when delivered or abandoned, so ``--state`` resumes them after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from conformance.doubles.gateway.config import DeliveryPolicy, WebhookTarget
from conformance.doubles.gateway.faults import FaultDice
from conformance.doubles.gateway.ledger import Ledger
from reference_impl.domain.policies import WebhookDialect
from reference_impl.domain.signatures import SIGNATURE_HEADERS, sign

USER_AGENT = "purchaseflow-gateway-double/0.1"


@dataclass(slots=True)
class Delivery:
    """One copy of one webhook event, on its way to the webhook URL."""

    delivery_id: str
    event_id: str
    event_type: str
    order_id: str
    dialect: str
    body: str
    copy: int = 1
    attempts: int = 0
    due: float = 0.0  # unix seconds of the next attempt

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Batch:
    deliveries: list[Delivery]
    concurrent: bool = False


@dataclass(slots=True)
class _Held:
    events: list[list[Delivery]] = field(default_factory=list)
    deadline: float = 0.0


class Dispatcher:
    def __init__(
        self,
        *,
        ledger: Ledger,
        target: Callable[[], WebhookTarget],
        dice: Callable[[], FaultDice],
        policy: DeliveryPolicy,
    ) -> None:
        self._ledger = ledger
        self._target = target
        self._dice = dice
        self._policy = policy
        self._clock = ledger.clock
        self._heap: list[tuple[float, int, _Batch]] = []
        self._order = itertools.count()
        self._held = _Held()
        self._tasks: set[asyncio.Task[None]] = set()
        self._worker: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        # Created again on every start: asyncio primitives belong to the loop that first
        # uses them, and a stopped double may be started on a new one.
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(policy.max_in_flight)

    async def start(self) -> None:
        limit = self._policy.max_in_flight
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(limit)
        self._client = httpx.AsyncClient(
            trust_env=False,  # never route loopback webhooks through a proxy
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
        )
        now = self._clock()
        # Resumed deliveries lose their batch (order, concurrency): after a crash only
        # "at least once" is promised.
        for stored in self._ledger.store.load("delivery"):
            delivery = Delivery(**stored)
            self._push(max(delivery.due, now), _Batch([delivery]))
        self._worker = asyncio.create_task(self._run(), name="webhook-dispatcher")

    async def stop(self) -> None:
        tasks = [*self._tasks, *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._worker = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reset(self) -> None:
        """Forget every pending delivery (the store is cleared by the ledger)."""
        for task in self._tasks:
            task.cancel()
        self._heap.clear()
        self._held = _Held()

    @property
    def idle(self) -> bool:
        return not self._heap and not self._held.events and not self._tasks

    def status(self) -> dict[str, int]:
        return {
            "pending": sum(len(b.deliveries) for _, _, b in self._heap),
            "held": sum(len(e) for e in self._held.events),
            "in_flight": len(self._tasks),
        }

    def submit(
        self, *, event_id: str, event_type: str, order_id: str, dialect: str, body: bytes
    ) -> list[Delivery]:
        """Queue a webhook event: one delivery per copy, due after the webhook delay."""
        dice = self._dice()
        faults = dice.faults.webhook
        now = self._clock()
        delay = dice.webhook_delay()
        if delay > 0:  # logged like every injected fault
            self._ledger.record("fault.webhook_delay", order_id, event_id=event_id, seconds=delay)
        due = now + delay
        deliveries = [
            Delivery(
                delivery_id=f"dlv_{secrets.token_hex(10)}",
                event_id=event_id,
                event_type=event_type,
                order_id=order_id,
                dialect=dialect,
                body=body.decode(),
                copy=n,
                due=due,
            )
            for n in range(1, dice.copies() + 1)
        ]
        for delivery in deliveries:
            self._ledger.store.put("delivery", delivery.delivery_id, delivery.to_json())
        reorder = faults.reorder
        if reorder is not None:
            if not self._held.events:
                self._held.deadline = now + reorder.max_hold_seconds
            self._held.events.append(deliveries)
            self._ledger.record(
                "delivery.held", order_id, event_id=event_id, held=len(self._held.events)
            )
            if len(self._held.events) >= reorder.window:
                self._release(now)
        else:
            self._push(deliveries[0].due, _Batch(deliveries, faults.duplicates.concurrent))
        self._wake.set()
        return deliveries

    def _release(self, now: float) -> None:
        events = self._dice().reorder(self._held.events)
        self._held = _Held()
        deliveries = [d for copies in events for d in copies]
        self._ledger.record(
            "delivery.released", None, event_ids=[copies[0].event_id for copies in events]
        )
        self._push(max(now, *(d.due for d in deliveries)), _Batch(deliveries))

    def _push(self, due: float, batch: _Batch) -> None:
        heapq.heappush(self._heap, (due, next(self._order), batch))

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self._clock()
            if self._held.events and now >= self._held.deadline:
                self._release(now)
            while self._heap and self._heap[0][0] <= now:
                _, _, batch = heapq.heappop(self._heap)
                task = asyncio.create_task(self._send(batch))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            wake_at = [self._heap[0][0]] if self._heap else []
            if self._held.events:
                wake_at.append(self._held.deadline)
            timeout = max(0.0, min(wake_at) - now) if wake_at else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _send(self, batch: _Batch) -> None:
        if batch.concurrent and len(batch.deliveries) > 1:
            await asyncio.gather(*(self._attempt(d) for d in batch.deliveries))
        else:
            for delivery in batch.deliveries:
                await self._attempt(delivery)

    async def _attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            await self._attempt_now(delivery)

    async def _attempt_now(self, delivery: Delivery) -> None:
        target = self._target()
        dice = self._dice()
        faults = dice.faults.webhook
        attempt = delivery.attempts + 1
        started = self._clock()
        status: int | None = None
        error: str | None = None
        signature: str | None = None
        timestamp: int | None = None
        if attempt <= faults.drop_first:
            outcome = "dropped"
            error = "dropped by fault: connection failure simulated, nothing sent"
        elif target.url is None:
            outcome = "failed"
            error = "no webhook URL configured"
        else:
            timestamp = int(started) - dice.staleness()
            wrong = dice.wrong_signature()
            signature = "wrong" if wrong else "valid"
            secret = f"whsec_wrong_{target.secret}" if wrong else target.secret
            body = delivery.body.encode()
            headers = {
                SIGNATURE_HEADERS[WebhookDialect(delivery.dialect)]: sign(secret, timestamp, body),
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Purchaseflow-Delivery": delivery.delivery_id,
                "X-Purchaseflow-Attempt": str(attempt),
            }
            status, error = await self._post(target.url, body, headers)
            outcome = "delivered" if status is not None and 200 <= status < 300 else "failed"
        finished = self._clock()
        delivery.attempts = attempt
        entry: dict[str, Any] = {
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "delivery_id": delivery.delivery_id,
            "copy": delivery.copy,
            "attempt": attempt,
            "sent_at": started,
            "url": target.url,
            "status": status,
            "error": error,
            "outcome": outcome,
            "signature": signature,
            "timestamp": timestamp,
            "duration": round(finished - started, 6),
        }
        if outcome == "delivered":
            self._ledger.store.delete("delivery", delivery.delivery_id)
            self._ledger.record("delivery.attempt", delivery.order_id, **entry)
        elif attempt >= self._policy.max_attempts:
            self._ledger.store.delete("delivery", delivery.delivery_id)
            self._ledger.record("delivery.attempt", delivery.order_id, **entry)
            self._ledger.record(
                "delivery.gave_up",
                delivery.order_id,
                event_id=delivery.event_id,
                delivery_id=delivery.delivery_id,
                attempts=attempt,
            )
        else:
            delivery.due = finished + self._policy.backoff(
                attempt, dice.jitter(self._policy.jitter)
            )
            self._ledger.store.put("delivery", delivery.delivery_id, delivery.to_json())
            self._ledger.record(
                "delivery.attempt", delivery.order_id, **entry, next_attempt_at=delivery.due
            )
            self._push(delivery.due, _Batch([delivery]))
            self._wake.set()

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        assert self._client is not None, "the dispatcher is not started"
        try:
            response = await self._client.post(
                url, content=body, headers=headers, timeout=self._policy.attempt_timeout
            )
        except httpx.TimeoutException:
            return None, f"timeout after {self._policy.attempt_timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, f"{type(exc).__name__}: {exc}".rstrip(": ")
        return response.status_code, None
