"""Everything one server process holds: settings, storage, outbound clients and workers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from reference_impl.config import Settings
from reference_impl.domain.errors import DomainError
from reference_impl.domain.policies import Policies
from reference_impl.outbound.gateway_client import GatewayClient
from reference_impl.outbound.mailer import SmtpMailer
from reference_impl.service import expiry, notifications
from reference_impl.service.ports import OutboxMessage, UnitOfWork
from reference_impl.service.settle import CONFIRMATION_EMAIL
from reference_impl.service.tracing import StoredTraceRecorder, Trace
from reference_impl.service.units import (
    ThreadedUnitRunner,
    UnitRunner,
    run_unit,
    stored_recorder,
)
from reference_impl.storage.availability import is_unavailable, one_line

log = logging.getLogger("purchaseflow.runtime")

T = TypeVar("T")


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass
class Runtime:
    settings: Settings
    uow_factory: Callable[[], UnitOfWork]
    gateway: GatewayClient
    mailer: SmtpMailer
    clock: Callable[[], float] = time.time
    #: Where the async endpoints run their units of work (``service.units``); default: a
    #: thread each.
    units: UnitRunner | None = None
    #: Units of work for pages that only read (an order, a cart, the next expiry), which on
    #: SQLite read beside the writer instead of queueing for it; default: ``uow_factory``.
    read_uow_factory: Callable[[], UnitOfWork] | None = None
    policies: Policies = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False)
    _worker: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.policies = self.settings.policies()
        if self.units is None:
            self.units = ThreadedUnitRunner(self.uow_factory)
        if self.read_uow_factory is None:
            self.read_uow_factory = self.uow_factory

    # --- per request ---------------------------------------------------------------------

    def trace(self, now: float) -> Trace:
        return Trace(StoredTraceRecorder() if self.settings.tracing else None, "", now)

    def save_trace(self, trace: Trace) -> None:
        """Store what the request recorded and did not store yet, whatever it did, with the
        next batch of the storage's runner (not a transaction of its own), and wait for it."""
        recorder = stored_recorder(trace)
        if recorder is not None and recorder.unstored():
            assert self.units is not None
            self.units.submit(_nothing, trace).result()

    def reader(self) -> UnitOfWork:
        """A unit of work for a read that writes nothing, not even a trace."""
        assert self.read_uow_factory is not None
        return self.read_uow_factory()

    def run_unit_here(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> T:
        """Run ``unit`` (a service call on a fresh unit of work) in this thread, for a sync
        endpoint: the trace it recorded goes in with its commit, the rest after it."""
        return run_unit(self.uow_factory, unit, trace)

    def read(self, read: Callable[[UnitOfWork], T], trace: Trace) -> T:
        """Run ``read`` on a read-only unit of work, then store the request's trace with the
        next batch of the storage's runner, and wait for it to be stored.

        Browsing writes nothing but its trace: on SQLite its read then goes beside the
        writer instead of queueing for the lock, and the trace rows join the group
        committer's transaction instead of taking one of their own (a lock turn, a BEGIN
        IMMEDIATE and a COMMIT per page). ``read`` records its reply before it returns,
        so that the reply is stored too; a refusal's (404) events are stored as well.
        """
        try:
            uow = self.reader()
            with uow:
                result = read(uow)
        except DomainError:
            self.save_trace(trace)
            raise
        self.save_trace(trace)
        return result

    async def run_unit(self, unit: Callable[[UnitOfWork], T], trace: Trace) -> T:
        """Run ``unit`` (a service call on a fresh unit of work) off the event loop."""
        assert self.units is not None
        return await self.units.run(unit, trace)

    async def store_trace(self, trace: Trace) -> None:
        """``save_trace`` for async endpoints: batched with other units where possible."""
        recorder = stored_recorder(trace)
        if recorder is not None and recorder.unstored():
            await self.run_unit(_nothing, trace)

    def wake_worker(self) -> None:
        self._wake.set()

    # --- background work: outbox and reservation expiry -----------------------------------

    def _send(self, message: OutboxMessage) -> None:
        uow = self.uow_factory()
        with uow:
            account = uow.accounts.get(str(message.payload.get("owner_id", "")))
        total = message.payload.get("total", {})
        self.mailer.send_confirmation(
            order_id=message.order_id,
            to=account.email if account else f"{message.payload.get('owner_id')}@buyer.test",
            total=f"{total.get('amount')} {total.get('currency')}",
        )

    def run_background_once(self) -> float | None:
        """One sweep; returns when the core next needs waking (the earliest expiry)."""
        now = self.clock()
        trace = self.trace(now)
        expiry.expire_due(self.uow_factory(), policies=self.policies, now=now, trace=trace)
        self.save_trace(trace)
        if self.policies.send_confirmation_email:
            notifications.deliver_outbox(
                self.uow_factory(), self._send, now=now, kind=CONFIRMATION_EMAIL
            )
        return expiry.next_wakeup(self.reader())

    def _loop(self) -> None:
        poll = self.settings.worker_poll
        while not self._stop.is_set():
            try:
                wake_at = self.run_background_once()
            except Exception as exc:
                if is_unavailable(exc):  # an outage, not a defect: one line per sweep
                    log.warning("background sweep: storage unavailable (%s); retrying",
                                one_line(exc))
                else:
                    log.exception("background sweep failed; retrying")
                wake_at = None
            delay = poll if wake_at is None else min(poll, max(wake_at - self.clock(), 0.0))
            self._wake.wait(delay)
            self._wake.clear()

    def start(self) -> None:
        self._stop.clear()
        self._worker = threading.Thread(target=self._loop, name="purchaseflow-worker",
                                        daemon=True)
        self._worker.start()

    @asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """An ASGI app's lifespan on this runtime: the background worker runs while it
        serves (``FastAPI(lifespan=runtime.lifespan)``)."""
        self.start()
        try:
            yield
        finally:
            await self.stop()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join, 10)
        await self.gateway.aclose()
        # The unit runner stays: a test app's lifespan may start again, and uvicorn stops
        # taking requests before this, so nothing is left waiting on it.


def _nothing(uow: UnitOfWork) -> None:
    """A unit that only stores the request's trace (every runner does that after a unit)."""
