"""Checkout sessions and payment events, in both webhook dialects (DESIGN.md section 3).

The wire shapes live here, next to the rules, so that the gateway double that sends them
and the shop that receives them cannot drift apart.

* ``generic`` follows seed 001: ``POST /webhook/payment-status {orderId, status: "Success"}``,
  plus an event id and a creation time so that it can be deduplicated and ordered.
* ``stripe`` follows seed 004 and Stripe's real event objects:
  ``checkout.session.completed`` and ``checkout.session.async_payment_failed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reference_impl.domain.errors import ValidationFailed
from reference_impl.domain.money import Money
from reference_impl.domain.policies import WebhookDialect


class PaymentOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"  # the buyer never completed the hosted session


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    session_id: str
    order_id: str
    amount: Money
    url: str


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    event_id: str
    order_id: str
    session_id: str
    outcome: PaymentOutcome
    amount: Money
    created: int


_GENERIC_STATUS = {
    PaymentOutcome.SUCCEEDED: "Success",
    PaymentOutcome.FAILED: "Failed",
    PaymentOutcome.EXPIRED: "Expired",
}
_GENERIC_TYPE = {
    PaymentOutcome.SUCCEEDED: "payment.succeeded",
    PaymentOutcome.FAILED: "payment.failed",
    PaymentOutcome.EXPIRED: "payment.expired",
}
_STRIPE_TYPE = {
    PaymentOutcome.SUCCEEDED: "checkout.session.completed",
    PaymentOutcome.FAILED: "checkout.session.async_payment_failed",
    PaymentOutcome.EXPIRED: "checkout.session.expired",
}
_STRIPE_SESSION_STATUS = {
    PaymentOutcome.SUCCEEDED: "complete",
    PaymentOutcome.FAILED: "complete",
    PaymentOutcome.EXPIRED: "expired",
}
# async_payment_succeeded completes a session whose payment settled later (Stripe docs).
_STRIPE_OUTCOME = {v: k for k, v in _STRIPE_TYPE.items()} | {
    "checkout.session.async_payment_succeeded": PaymentOutcome.SUCCEEDED,
}
_GENERIC_OUTCOME = {v: k for k, v in _GENERIC_STATUS.items()}
# What json.dumps(payload, separators=(",", ":")) builds anew on every call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def encode_event(dialect: WebhookDialect, event: PaymentEvent) -> bytes:
    """The raw body a gateway sends for ``event`` in ``dialect``."""
    payload: dict[str, Any]
    if dialect is WebhookDialect.GENERIC:
        payload = {
            "id": event.event_id,
            "type": _GENERIC_TYPE[event.outcome],
            "created": event.created,
            "orderId": event.order_id,
            "sessionId": event.session_id,
            "status": _GENERIC_STATUS[event.outcome],
            "amount": event.amount.amount,
            "currency": event.amount.currency,
        }
    else:
        paid = event.outcome is PaymentOutcome.SUCCEEDED
        payload = {
            "id": event.event_id,
            "object": "event",
            "api_version": "2024-06-20",
            "created": event.created,
            "livemode": False,
            "type": _STRIPE_TYPE[event.outcome],
            "data": {
                "object": {
                    "id": event.session_id,
                    "object": "checkout.session",
                    "client_reference_id": event.order_id,
                    "metadata": {"order_id": event.order_id},
                    "amount_total": event.amount.amount,
                    "currency": event.amount.currency.lower(),
                    "payment_status": "paid" if paid else "unpaid",
                    "status": _STRIPE_SESSION_STATUS[event.outcome],
                }
            },
        }
    return _COMPACT_JSON.encode(payload).encode()


def _require(obj: dict[str, Any], key: str, kind: type) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValidationFailed(f"webhook field {key!r} must be a {kind.__name__}")
    return value


def decode_event(dialect: WebhookDialect, body: bytes) -> PaymentEvent | None:
    """Parse an authenticated webhook body.

    Returns ``None`` for an event type this flow does not act on (it is still acknowledged,
    DESIGN.md section 3). Raises ValidationFailed for a malformed body.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed("webhook body must be a JSON object")
    event_id = _require(data, "id", str)
    created = _require(data, "created", int)
    if dialect is WebhookDialect.GENERIC:
        status = _require(data, "status", str)
        if status not in _GENERIC_OUTCOME:
            raise ValidationFailed(f"unknown payment status {status!r}")
        currency = _require(data, "currency", str)
        return PaymentEvent(
            event_id=event_id,
            order_id=_require(data, "orderId", str),
            session_id=str(data.get("sessionId") or ""),
            outcome=_GENERIC_OUTCOME[status],
            amount=Money(_require(data, "amount", int), currency.upper()),
            created=created,
        )
    kind = _require(data, "type", str)
    outcome = _STRIPE_OUTCOME.get(kind)
    if outcome is None:
        return None
    inner = data.get("data")
    session = inner.get("object") if isinstance(inner, dict) else None
    if not isinstance(session, dict):
        raise ValidationFailed("stripe event lacks data.object")
    metadata = session.get("metadata")
    order_id = session.get("client_reference_id") or (
        metadata.get("order_id") if isinstance(metadata, dict) else None
    )
    if not isinstance(order_id, str):
        raise ValidationFailed("stripe session lacks client_reference_id")
    return PaymentEvent(
        event_id=event_id,
        order_id=order_id,
        session_id=_require(session, "id", str),
        outcome=outcome,
        amount=Money(
            _require(session, "amount_total", int), _require(session, "currency", str).upper()
        ),
        created=created,
    )
