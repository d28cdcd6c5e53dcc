"""Webhook delivery: signatures in both dialects, at least once, retries, every attempt logged."""

from __future__ import annotations

import time
from itertools import pairwise

import pytest
import stripe

from conformance.doubles._serving import bind_loopback
from conformance.doubles.gateway import DEFAULT_SECRET, GatewayDouble
from reference_impl.domain.payment import PaymentOutcome, decode_event
from reference_impl.domain.policies import WebhookDialect
from reference_impl.domain.signatures import verify

from .conftest import StartGateway
from .receiver import Receiver

SECRET = "whsec_delivery_test"


@pytest.mark.parametrize(
    ("outcome", "event_type"),
    [
        ("succeeded", "checkout.session.completed"),
        ("failed", "checkout.session.async_payment_failed"),
        ("expired", "checkout.session.expired"),
    ],
)
def test_stripe_dialect_verifies_with_the_official_stripe_package(
    gw: GatewayDouble, receiver: Receiver, outcome: str, event_type: str
) -> None:
    gw.configure_webhook(secret=SECRET, dialect="stripe")
    session = gw.create_session(2599, "ord_s")
    gw.complete(session["id"], outcome)
    gw.wait_idle(5)
    [webhook] = receiver.requests
    header = webhook.headers["stripe-signature"]
    event = stripe.Webhook.construct_event(webhook.body, header, SECRET)
    assert event.type == event_type
    assert event.data.object.client_reference_id == "ord_s"
    assert event.data.object.amount_total == 2599
    assert event.data.object.id == session["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(webhook.body, header, "whsec_someone_else")


def test_generic_dialect_verifies_with_our_verify(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.configure_webhook(secret=SECRET, dialect="generic")
    session = gw.create_session(1500, "ord_g")
    gw.complete(session["id"], "failed")
    gw.wait_idle(5)
    [webhook] = receiver.requests
    assert "stripe-signature" not in webhook.headers
    header = webhook.headers["x-webhook-signature"]
    assert verify(SECRET, header, webhook.body, now=time.time())
    event = decode_event(WebhookDialect.GENERIC, webhook.body)
    assert event is not None
    assert (event.order_id, event.session_id) == ("ord_g", session["id"])
    assert event.outcome is PaymentOutcome.FAILED
    assert (event.amount.amount, event.amount.currency) == (1500, "EUR")
    [created] = gw.events(order_id="ord_g", kind="event.created")
    assert created["event_id"] == event.event_id
    assert abs(event.created - time.time()) < 5  # the gateway's wall clock


def test_a_down_receiver_gets_the_event_once_it_is_back(start_gateway: StartGateway) -> None:
    # The port is bound but not listening: every attempt is refused, as by a SUT that is down.
    sock = bind_loopback()
    port = sock.getsockname()[1]
    gw = start_gateway(webhook_url=f"http://127.0.0.1:{port}/webhook")
    gw.complete(gw.create_session(1000, "ord_r")["id"])
    while len(gw.attempts("ord_r")) < 2:
        time.sleep(0.01)

    # It comes back, still unwell for one more request, then fine; it deduplicates by id.
    with Receiver(sock=sock, statuses=[503]) as receiver:
        gw.wait_idle(5)
        assert receiver.applied == [receiver.requests[0].event_id]
        assert [r.status for r in receiver.requests] == [503, 200]

    attempts = gw.attempts("ord_r")
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    assert [a["outcome"] for a in attempts] == ["failed"] * (len(attempts) - 1) + ["delivered"]
    refused = [a for a in attempts if a["status"] is None]
    assert len(refused) >= 2 and all("ConnectError" in a["error"] for a in refused)
    assert [a["status"] for a in attempts[len(refused):]] == [503, 200]
    for earlier, later in pairwise(attempts):
        assert later["sent_at"] >= earlier["next_attempt_at"]  # it waited its backoff
    assert len({a["event_id"] for a in attempts}) == 1


def test_backoff_grows_exponentially(start_gateway: StartGateway, receiver: Receiver) -> None:
    receiver.reset(default_status=500)
    gw = start_gateway(
        webhook_url=receiver.url,
        delivery={"initial_backoff": 0.04, "max_backoff": 10, "jitter": 0, "max_attempts": 4},
    )
    gw.complete(gw.create_session(1000, "ord_b")["id"])
    gw.wait_idle(5)
    attempts = gw.attempts("ord_b")
    # Counted from the end of the failed attempt; the log entry's own "at" comes after the
    # delivery is saved, a few ms later on a loaded machine.
    backoffs = [a["next_attempt_at"] - (a["sent_at"] + a["duration"]) for a in attempts[:-1]]
    assert backoffs == pytest.approx([0.04, 0.08, 0.16], abs=1e-5)
    for earlier, later in pairwise(attempts):
        assert later["sent_at"] >= earlier["next_attempt_at"]
    assert [r.status for r in receiver.requests] == [500] * 4
    [gave_up] = gw.events(order_id="ord_b", kind="delivery.gave_up")
    assert gave_up["attempts"] == 4


def test_an_attempt_that_times_out_is_retried(
    start_gateway: StartGateway, receiver: Receiver
) -> None:
    receiver.reset(delay=0.5)
    gw = start_gateway(webhook_url=receiver.url, delivery={"attempt_timeout": 0.2})
    gw.complete(gw.create_session(1000, "ord_t")["id"])
    while not gw.attempts("ord_t"):
        time.sleep(0.01)
    receiver.reset()  # fast again
    gw.wait_idle(5)
    attempts = gw.attempts("ord_t")
    assert attempts[0]["error"] == "timeout after 0.2 s"
    assert attempts[-1]["outcome"] == "delivered"
    # The timed-out request did arrive and was applied, late: a timeout tells the gateway
    # nothing, which is why the SUT must deduplicate.
    assert len(receiver.wait_for(2)) == 2
    assert len(receiver.applied) == 1


def test_the_webhook_target_can_be_set_after_start(
    start_gateway: StartGateway, receiver: Receiver
) -> None:
    gw = start_gateway()  # the SUT's port is not known yet
    gw.complete(gw.create_session(1000, "ord_l")["id"])
    while not gw.attempts("ord_l"):
        time.sleep(0.01)
    gw.configure_webhook(receiver.url, secret=DEFAULT_SECRET)
    gw.wait_idle(5)
    assert gw.attempts("ord_l")[0]["error"] == "no webhook URL configured"
    assert len(receiver.applied) == 1


def test_many_events_are_each_delivered_once(gw: GatewayDouble, receiver: Receiver) -> None:
    for n in range(20):
        gw.complete(gw.create_session(100 + n, f"ord_{n}")["id"])
    gw.wait_idle(5)
    assert len(receiver.requests) == 20
    assert len(set(receiver.applied)) == 20
    assert len(gw.attempts()) == 20
