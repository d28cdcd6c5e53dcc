"""The gateway double's behaviour, apart from HTTP: a Stripe-like subset plus faults.

``app.py`` maps HTTP onto these methods and ``GatewayError`` onto Stripe-shaped error
bodies; nothing here knows about requests and responses. Every method runs on the server's
event loop, one at a time between awaits, so the state needs no locks.

The *merchant API* (what a SUT calls: create and read a session, create a charge) suffers
the outage and latency faults; the create calls also suffer 5xx and timeouts. The buyer's
side (complete a session, the pay page) and the inspection and control endpoints do not,
so that a test can always drive and observe the double.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from conformance.doubles.gateway.config import DeliveryPolicy, WebhookTarget
from conformance.doubles.gateway.delivery import Dispatcher
from conformance.doubles.gateway.faults import FaultDice, Faults, describe_validation_error
from conformance.doubles.gateway.ledger import IdempotencyRecord, Ledger
from conformance.doubles.gateway.store import Store
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome, encode_event

CARD_OK = "pm_card_visa"
CARD_DECLINED = "pm_card_chargeDeclined"  # Stripe's own test payment method names


class GatewayError(Exception):
    """An API error, answered as Stripe does: ``{"error": {"type", "message", "code"?}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        return {"error": error}


Currency = Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]


class _Request(BaseModel):
    # Extra fields are ignored, not refused: a SUT written against real Stripe may send
    # parameters (metadata, mode...) that the double has no use for.
    model_config = ConfigDict(extra="ignore")

    amount: Annotated[StrictInt, Field(gt=0)]
    currency: Currency
    order_id: Annotated[str, Field(min_length=1)]


class SessionRequest(_Request):
    success_url: str | None = None
    cancel_url: str | None = None


class ChargeRequest(_Request):
    payment_method: str = CARD_OK


R = TypeVar("R", bound=BaseModel)

_SESSION_STATE = {
    # Stripe: a session whose payment failed later is "complete" but "unpaid"
    # (checkout.session.async_payment_failed); an abandoned one is "expired".
    PaymentOutcome.SUCCEEDED: ("complete", "paid"),
    PaymentOutcome.FAILED: ("complete", "unpaid"),
    PaymentOutcome.EXPIRED: ("expired", "unpaid"),
}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(400, "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(400, "the request body must be a JSON object")
    return data


def _validate(model: type[R], data: dict[str, Any]) -> R:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise GatewayError(400, describe_validation_error(exc)) from None


class Gateway:
    def __init__(
        self,
        *,
        target: WebhookTarget | None = None,
        faults: Faults | None = None,
        policy: DeliveryPolicy | None = None,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.target = target or WebhookTarget()
        self.dice = FaultDice(faults or Faults())
        self.policy = policy or DeliveryPolicy()
        self.clock = clock
        self.ledger = Ledger(store, clock)
        self.dispatcher = Dispatcher(
            ledger=self.ledger,
            target=lambda: self.target,
            dice=lambda: self.dice,
            policy=self.policy,
        )
        self._epoch = time.monotonic()

    @property
    def faults(self) -> Faults:
        return self.dice.faults

    async def start(self) -> None:
        self._epoch = time.monotonic()
        await self.dispatcher.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        self.ledger.store.close()

    def uptime(self) -> float:
        """Seconds since start or the last reset: the clock of the outage windows."""
        return time.monotonic() - self._epoch

    # -- merchant API --------------------------------------------------------------------

    async def _merchant_call(self, operation: str, order_id: str | None) -> None:
        if self.dice.in_outage(self.uptime()):
            self.ledger.record("fault.outage", order_id, operation=operation)
            raise GatewayError(
                503, "the gateway is unavailable (outage window)", type="api_error"
            )
        delay = self.dice.latency()
        if delay > 0:
            # Logged like the other faults, so that a run can tell which calls it slowed.
            self.ledger.record(
                "fault.latency", order_id, operation=operation, seconds=round(delay, 6)
            )
            await asyncio.sleep(delay)

    async def _create(
        self,
        kind: str,
        raw: bytes,
        idempotency_key: str | None,
        model: type[R],
        make: Callable[[R], dict[str, Any]],
    ) -> dict[str, Any]:
        data = parse_json_object(raw)
        order_id = data.get("order_id") if isinstance(data.get("order_id"), str) else None
        operation = f"create_{kind}"
        await self._merchant_call(operation, order_id)
        fails, holds = self.dice.create_fails(), self.dice.create_times_out()
        if fails:
            status = self.faults.create.error_status
            self.ledger.record("fault.server_error", order_id, operation=operation, status=status)
            raise GatewayError(status, "injected server error", type="api_error")
        fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        known = self.ledger.idempotent(kind, idempotency_key) if idempotency_key else None
        if known is not None:
            if known.fingerprint != fingerprint:
                raise GatewayError(
                    400,
                    "keys for idempotent requests can only be used with the same parameters "
                    "they were first used with",
                    type="idempotency_error",
                )
            obj = self.ledger.objects(kind)[known.object_id]
        else:
            obj = make(_validate(model, data))
            self.ledger.save(kind, obj)
            if idempotency_key:
                self.ledger.remember(
                    kind, idempotency_key, IdempotencyRecord(fingerprint, kind, obj["id"])
                )
        if holds:
            hold = self.faults.create.timeout_seconds
            self.ledger.record(
                "fault.timeout", order_id, operation=operation, object_id=obj["id"], hold=hold
            )
            await asyncio.sleep(hold)
        return obj

    async def create_session(
        self, raw: bytes, idempotency_key: str | None, base_url: str
    ) -> dict[str, Any]:
        def make(req: SessionRequest) -> dict[str, Any]:
            session_id = _new_id("cs_test")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"{base_url.rstrip('/')}/pay/{session_id}",
                "amount_total": req.amount,
                "currency": req.currency.lower(),
                "client_reference_id": req.order_id,
                "metadata": {"order_id": req.order_id},
                "status": "open",
                "payment_status": "unpaid",
                # Not in Stripe's object: how the buyer's attempt ended, so that a client
                # reconciling without webhooks can tell a decline from a pending payment.
                "outcome": None,
                "success_url": req.success_url,
                "cancel_url": req.cancel_url,
                "created": int(self.clock()),
            }
            self.ledger.record(
                "session.created",
                req.order_id,
                session_id=session_id,
                amount=req.amount,
                currency=session["currency"],
            )
            return session

        return await self._create("session", raw, idempotency_key, SessionRequest, make)

    async def get_session(self, session_id: str) -> dict[str, Any]:
        known = self.ledger.sessions.get(session_id)
        order_id = known["client_reference_id"] if known else None
        await self._merchant_call("get_session", order_id)
        return self._session(session_id)

    async def create_charge(self, raw: bytes, idempotency_key: str | None) -> dict[str, Any]:
        def make(req: ChargeRequest) -> dict[str, Any]:
            if req.payment_method not in (CARD_OK, CARD_DECLINED):
                raise GatewayError(
                    400,
                    f"no such payment method {req.payment_method!r}; "
                    f"use {CARD_OK!r} or {CARD_DECLINED!r}",
                    code="resource_missing",
                )
            by_fault = self.dice.declines()
            failed = by_fault or req.payment_method == CARD_DECLINED
            charge = {
                "id": _new_id("ch"),
                "object": "charge",
                "status": "failed" if failed else "succeeded",
                "paid": not failed,
                "failure_code": "card_declined" if failed else None,
                "amount": req.amount,
                "currency": req.currency.lower(),
                "order_id": req.order_id,
                "payment_method": req.payment_method,
                "created": int(self.clock()),
            }
            self.ledger.record(
                "charge.created",
                req.order_id,
                charge_id=charge["id"],
                status=charge["status"],
                failure_code=charge["failure_code"],
                declined_by_fault=by_fault,
                amount=req.amount,
                currency=charge["currency"],
            )
            return charge

        return await self._create("charge", raw, idempotency_key, ChargeRequest, make)

    # -- the buyer -------------------------------------------------------------------------

    def complete(self, session_id: str, outcome: object) -> dict[str, Any]:
        """Finish a session as the buyer would and queue its webhook event."""
        session = self._session(session_id)
        try:
            requested = PaymentOutcome(str(outcome) if isinstance(outcome, str) else "")
        except ValueError:
            choices = ", ".join(o.value for o in PaymentOutcome)
            raise GatewayError(400, f"outcome must be one of {choices}, not {outcome!r}") from None
        if session["status"] != "open":
            raise GatewayError(
                409,
                f"checkout session {session_id} is already {session['status']}",
                code="checkout_session_not_open",
            )
        by_fault = self.dice.declines() and requested is PaymentOutcome.SUCCEEDED
        final = PaymentOutcome.FAILED if by_fault else requested
        order_id = session["client_reference_id"]
        now = self.clock()
        status, payment_status = _SESSION_STATE[final]
        session = {
            **session,
            "status": status,
            "payment_status": payment_status,
            "outcome": final.value,
        }
        self.ledger.save("session", session)
        self.ledger.record(
            "session.completed",
            order_id,
            session_id=session_id,
            requested_outcome=requested.value,
            outcome=final.value,
            declined_by_fault=by_fault,
        )
        event = PaymentEvent(
            event_id=_new_id("evt"),
            order_id=order_id,
            session_id=session_id,
            outcome=final,
            amount=Money(session["amount_total"], session["currency"].upper()),
            created=int(now),
        )
        dialect = self.target.dialect
        body = encode_event(dialect, event)
        event_type = json.loads(body)["type"]
        self.ledger.record(
            "event.created",
            order_id,
            event_id=event.event_id,
            event_type=event_type,
            dialect=dialect.value,
            session_id=session_id,
            outcome=final.value,
            created=event.created,
        )
        self.dispatcher.submit(
            event_id=event.event_id,
            event_type=event_type,
            order_id=order_id,
            dialect=dialect.value,
            body=body,
        )
        return session

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.ledger.sessions.get(session_id)
        if session is None:
            raise GatewayError(
                404, f"no such checkout session: {session_id!r}", code="resource_missing"
            )
        return session

    # -- inspection and control ------------------------------------------------------------

    def events(self, order_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        return self.ledger.entries(order_id=order_id, kind=kind)

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults; their random streams start again from the seed. Outage
        windows keep counting from start or the last reset."""
        self.dice = FaultDice(faults)
        self.ledger.record("control.faults", None, faults=faults.model_dump(mode="json"))

    def set_target(self, target: WebhookTarget) -> None:
        """Later attempts, including retries of pending deliveries, use the new target."""
        self.target = target
        self.ledger.record(
            "control.webhook", None, url=target.url, dialect=target.dialect.value
        )

    def reset(self) -> None:
        """Forget sessions, charges, keys, the log and pending deliveries; restart the
        outage clock and the fault streams."""
        self.dispatcher.reset()
        self.ledger.clear()
        self.dice = FaultDice(self.faults)
        self._epoch = time.monotonic()

    def status(self) -> dict[str, Any]:
        return {
            "uptime": self.uptime(),
            "idle": self.dispatcher.idle,
            **self.dispatcher.status(),
            "sessions": len(self.ledger.sessions),
            "charges": len(self.ledger.charges),
        }
