"""Payment webhook bodies in both dialects (DESIGN.md section 3; seeds 001 and 004)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reference_impl.domain.errors import ValidationFailed
from reference_impl.domain.money import Money
from reference_impl.domain.payment import PaymentEvent, PaymentOutcome, decode_event, encode_event
from reference_impl.domain.policies import WebhookDialect

DIALECTS = list(WebhookDialect)
OUTCOMES = list(PaymentOutcome)


def _event(outcome: PaymentOutcome = PaymentOutcome.SUCCEEDED) -> PaymentEvent:
    return PaymentEvent(
        event_id="evt_1",
        order_id="ord_1",
        session_id="cs_1",
        outcome=outcome,
        amount=Money(2599, "EUR"),
        created=1_700_000_000,
    )


def _body(dialect: WebhookDialect, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode_event(dialect, _event()))
    data.update(changes)
    return data


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_round_trip(dialect: WebhookDialect, outcome: PaymentOutcome) -> None:
    event = _event(outcome)
    assert decode_event(dialect, encode_event(dialect, event)) == event


def test_generic_shape_follows_seed_001() -> None:
    body = json.loads(encode_event(WebhookDialect.GENERIC, _event()))
    assert body["orderId"] == "ord_1"
    assert body["status"] == "Success"  # seed 001: { orderId, status: "Success" }
    assert body["id"] == "evt_1"
    assert (body["amount"], body["currency"]) == (2599, "EUR")


@pytest.mark.parametrize(
    ("outcome", "event_type"),
    [
        (PaymentOutcome.SUCCEEDED, "checkout.session.completed"),
        (PaymentOutcome.FAILED, "checkout.session.async_payment_failed"),
        (PaymentOutcome.EXPIRED, "checkout.session.expired"),
    ],
)
def test_stripe_shape_follows_seed_004(outcome: PaymentOutcome, event_type: str) -> None:
    body = json.loads(encode_event(WebhookDialect.STRIPE, _event(outcome)))
    assert body["type"] == event_type
    assert body["object"] == "event"
    session = body["data"]["object"]
    assert session["object"] == "checkout.session"
    assert session["client_reference_id"] == "ord_1"
    assert session["amount_total"] == 2599
    assert session["currency"] == "eur"  # Stripe writes currencies in lower case
    assert session["payment_status"] == (
        "paid" if outcome is PaymentOutcome.SUCCEEDED else "unpaid"
    )


def test_stripe_async_payment_succeeded_is_a_success() -> None:
    body = _body(WebhookDialect.STRIPE, type="checkout.session.async_payment_succeeded")
    decoded = decode_event(WebhookDialect.STRIPE, json.dumps(body).encode())
    assert decoded is not None
    assert decoded.outcome is PaymentOutcome.SUCCEEDED


@pytest.mark.parametrize(
    "event_type", ["payment_intent.succeeded", "charge.refunded", "customer.created"]
)
def test_stripe_unknown_event_types_decode_to_none(event_type: str) -> None:
    body = _body(WebhookDialect.STRIPE, type=event_type, data={"object": {"id": "pi_1"}})
    assert decode_event(WebhookDialect.STRIPE, json.dumps(body).encode()) is None


def test_stripe_order_id_from_metadata_when_no_client_reference() -> None:
    body = _body(WebhookDialect.STRIPE)
    del body["data"]["object"]["client_reference_id"]
    decoded = decode_event(WebhookDialect.STRIPE, json.dumps(body).encode())
    assert decoded is not None and decoded.order_id == "ord_1"


def test_generic_session_id_is_optional() -> None:
    body = _body(WebhookDialect.GENERIC)
    del body["sessionId"]
    decoded = decode_event(WebhookDialect.GENERIC, json.dumps(body).encode())
    assert decoded is not None and decoded.session_id == ""


def _without(dialect: WebhookDialect, *path: str) -> bytes:
    body = _body(dialect)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return json.dumps(body).encode()


def _with(dialect: WebhookDialect, value: Any, *path: str) -> bytes:
    body = _body(dialect)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(body).encode()


G, S = WebhookDialect.GENERIC, WebhookDialect.STRIPE

MALFORMED: list[tuple[WebhookDialect, bytes]] = [
    (G, b"not json"),
    (G, b"\xff\xfe\x00garbage"),
    (G, b"[1, 2]"),
    (G, b'"a string"'),
    (G, b"null"),
    (S, b"{"),
    (S, b"[]"),
    (G, _without(G, "id")),
    (G, _without(G, "created")),
    (G, _without(G, "orderId")),
    (G, _without(G, "status")),
    (G, _without(G, "amount")),
    (G, _without(G, "currency")),
    (G, _with(G, "Pending", "status")),
    (G, _with(G, 12, "id")),
    (G, _with(G, "1700000000", "created")),
    (G, _with(G, True, "amount")),
    (G, _with(G, 25.99, "amount")),
    (G, _with(G, "euro", "currency")),
    (G, _with(G, 7, "orderId")),
    (S, _without(S, "id")),
    (S, _without(S, "created")),
    (S, _without(S, "type")),
    (S, _without(S, "data")),
    (S, _with(S, "nope", "data")),
    (S, _with(S, [], "data", "object")),
    (S, _without(S, "data", "object", "id")),
    (S, _without(S, "data", "object", "amount_total")),
    (S, _without(S, "data", "object", "currency")),
    (S, _with(S, 7, "data", "object", "client_reference_id")),
    (S, _with(S, "2599", "data", "object", "amount_total")),
]


@pytest.mark.parametrize(("dialect", "body"), MALFORMED)
def test_malformed_bodies_raise_validation_failed(dialect: WebhookDialect, body: bytes) -> None:
    with pytest.raises(ValidationFailed):
        decode_event(dialect, body)


def test_stripe_without_any_order_reference_is_malformed() -> None:
    body = _body(S)
    del body["data"]["object"]["client_reference_id"]
    del body["data"]["object"]["metadata"]
    with pytest.raises(ValidationFailed):
        decode_event(S, json.dumps(body).encode())


def test_encoding_is_compact_and_stable() -> None:
    # The signature covers these exact bytes; the same event must always encode the same.
    first = encode_event(S, _event())
    assert first == encode_event(S, _event())
    assert b" " not in first
