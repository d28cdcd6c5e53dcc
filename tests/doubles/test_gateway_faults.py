"""Every fault of the gateway double, shown by its effect on the wire (DESIGN.md section 4).

The API faults are seen by a real HTTP client; the webhook faults by the real receiver in
``receiver.py``. Rate faults are checked against the seeded dice: the same seed and calls
give the same faults, so the test can say which call is hit.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
import stripe

from conformance.doubles.gateway import DEFAULT_SECRET, Faults, GatewayDouble
from conformance.doubles.gateway.faults import FaultDice
from reference_impl.domain.errors import InvalidSignature
from reference_impl.domain.signatures import verify

from .receiver import Receiver

SESSION = {"amount": 1000, "currency": "EUR", "order_id": "ord_1"}


def _create(gw: GatewayDouble, body: dict[str, Any] = SESSION, **kwargs: Any) -> httpx.Response:
    return gw.client.post("/v1/checkout/sessions", json=body, **kwargs)


def _pay(gw: GatewayDouble, order_id: str, outcome: str = "succeeded") -> dict[str, Any]:
    return gw.complete(gw.create_session(1000, order_id)["id"], outcome)


def _attempt_outcomes(gw: GatewayDouble, order_id: str | None = None) -> list[str]:
    return [a["outcome"] for a in gw.attempts(order_id)]


# -- API faults ----------------------------------------------------------------------------


def test_fixed_latency_delays_the_merchant_api_only(gw: GatewayDouble) -> None:
    gw.set_faults({"latency": {"distribution": "fixed", "seconds": 0.3}})
    started = time.perf_counter()
    created = _create(gw)
    assert created.status_code == 200
    assert time.perf_counter() - started >= 0.3  # a delay is a lower bound, never flaky
    gw.session(created.json()["id"])  # a merchant call too: delayed and logged
    gw.events()  # inspection: never slowed down, so never logged
    gw.attempts()
    delays = gw.events(kind="fault.latency")
    assert [(d["operation"], d["seconds"]) for d in delays] == [
        ("create_session", 0.3), ("get_session", 0.3)
    ]


def test_uniform_latency_follows_the_seed(gw: GatewayDouble) -> None:
    faults = Faults.model_validate(
        {"seed": 5, "latency": {"distribution": "uniform", "low": 0.05, "high": 0.3}}
    )
    gw.set_faults(faults)
    dice = FaultDice(faults)
    expected = [dice.latency() for _ in range(3)]
    for delay in expected:
        started = time.perf_counter()
        _create(gw)
        assert time.perf_counter() - started >= delay
    # The delays drawn are the seed's, in order.
    delays = [d["seconds"] for d in gw.events(kind="fault.latency")]
    assert delays == pytest.approx(expected, abs=1e-6)


def test_latency_distributions_are_seeded() -> None:
    def rolls(seed: int, latency: dict[str, Any]) -> list[float]:
        dice = FaultDice(Faults.model_validate({"seed": seed, "latency": latency}))
        return [dice.latency() for _ in range(50)]

    exponential = {"distribution": "exponential", "mean": 0.1, "cap": 0.25}
    assert rolls(1, exponential) == rolls(1, exponential)
    assert rolls(1, exponential) != rolls(2, exponential)
    assert max(rolls(1, exponential)) == 0.25
    uniform = {"distribution": "uniform", "low": 0.1, "high": 0.2}
    assert all(0.1 <= r <= 0.2 for r in rolls(3, uniform))


def test_decline_rate_turns_payments_into_declines(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.set_faults({"decline_rate": 1.0})
    session = _pay(gw, "ord_d", "succeeded")
    assert (session["status"], session["payment_status"]) == ("complete", "unpaid")
    gw.wait_idle(5)
    [webhook] = receiver.requests
    assert webhook.json["status"] == "Failed"  # seed 001's vocabulary
    [completed] = gw.events(order_id="ord_d", kind="session.completed")
    assert completed["declined_by_fault"] is True
    charge = httpx.post(
        gw.url + "/v1/charges", json={"amount": 10, "currency": "EUR", "order_id": "c"}
    ).json()
    assert (charge["status"], charge["failure_code"]) == ("failed", "card_declined")


def test_decline_rate_is_deterministic_per_seed(gw: GatewayDouble) -> None:
    faults = Faults(seed=11, decline_rate=0.5)
    dice = FaultDice(faults)
    expected = ["failed" if dice.declines() else "succeeded" for _ in range(12)]

    def run() -> list[str]:
        gw.reset()  # the fault streams start again from the seed
        body = {"amount": 10, "currency": "EUR", "order_id": "o"}
        return [
            gw.client.post("/v1/charges", json=body).json()["status"] for _ in range(12)
        ]

    gw.set_faults(faults)
    assert run() == expected
    assert run() == expected
    assert set(expected) == {"failed", "succeeded"}


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_on_create_create_nothing(gw: GatewayDouble, status: int) -> None:
    gw.set_faults({"create": {"error_rate": 1.0, "error_status": status}})
    response = _create(gw, headers={"Idempotency-Key": "k"})
    assert response.status_code == status
    assert response.json()["error"]["type"] == "api_error"
    charge = gw.client.post("/v1/charges", json=SESSION)
    assert charge.status_code == status
    assert gw.events(kind="session.created") == []
    assert len(gw.events(kind="fault.server_error")) == 2

    gw.set_faults({})
    assert _create(gw, headers={"Idempotency-Key": "k"}).status_code == 200


def test_timeout_on_create_holds_the_response_but_creates(gw: GatewayDouble) -> None:
    gw.set_faults({"create": {"timeout_rate": 1.0, "timeout_seconds": 1.0}})
    with pytest.raises(httpx.ReadTimeout):
        _create(gw, headers={"Idempotency-Key": "k"}, timeout=0.3)
    [fault] = gw.events(kind="fault.timeout")

    gw.set_faults({})
    retried = _create(gw, headers={"Idempotency-Key": "k"}, timeout=0.3)
    assert retried.json()["id"] == fault["object_id"]  # the client's retry finds it
    assert len(gw.events(kind="session.created")) == 1


def _wait_uptime(gw: GatewayDouble, seconds: float) -> None:
    while gw.status()["uptime"] < seconds:
        time.sleep(0.01)


def test_outage_windows_answer_503_then_recover(gw: GatewayDouble) -> None:
    gw.set_faults({"outages": [{"start": 0.3, "end": 1.0}]})
    gw.reset()  # the outage clock counts from start or reset
    session = gw.create_session(1000, "ord_o")
    _wait_uptime(gw, 0.3)
    down = _create(gw)
    assert down.status_code == 503
    assert down.json()["error"]["type"] == "api_error"
    assert gw.client.get(f"/v1/checkout/sessions/{session['id']}").status_code == 503
    assert gw.client.post("/v1/charges", json=SESSION).status_code == 503
    assert gw.complete(session["id"])["payment_status"] == "paid"  # the buyer's side works
    assert len(gw.events(kind="fault.outage")) == 3
    _wait_uptime(gw, 1.0)
    assert _create(gw).status_code == 200
    gw.wait_idle(5)


# -- webhook faults -------------------------------------------------------------------------


def test_webhook_delay(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.set_faults({"webhook": {"delay_seconds": 0.4}})
    session = gw.create_session(1000, "ord_w")
    completed_at = time.time()
    gw.complete(session["id"])
    [webhook] = receiver.wait_for(1)
    assert webhook.started - completed_at >= 0.4
    gw.wait_idle(5)


def test_duplicates_one_after_another(gw: GatewayDouble, receiver: Receiver) -> None:
    receiver.reset(delay=0.1)
    gw.set_faults({"webhook": {"duplicates": {"copies": 3}}})
    _pay(gw, "ord_dup")
    gw.wait_idle(5)
    first, second, third = receiver.requests
    assert first.event_id == second.event_id == third.event_id
    assert second.started >= first.finished and third.started >= second.finished
    deliveries = {r.headers["x-purchaseflow-delivery"] for r in receiver.requests}
    assert len(deliveries) == 3
    assert receiver.applied == [first.event_id]  # a deduplicating SUT applies it once


def test_duplicates_sent_concurrently(gw: GatewayDouble, receiver: Receiver) -> None:
    receiver.reset(delay=0.3)
    gw.set_faults({"webhook": {"duplicates": {"copies": 3, "concurrent": True}}})
    _pay(gw, "ord_dup")
    gw.wait_idle(5)
    copies = receiver.requests
    assert len(copies) == 3 and len({r.event_id for r in copies}) == 1
    # all three were being handled at the same moment
    assert max(r.started for r in copies) < min(r.finished for r in copies)


def test_reorder_reverses_a_window(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.set_faults({"webhook": {"reorder": {"window": 3, "order": "reverse"}}})
    for order_id in ("A", "B", "C"):
        _pay(gw, order_id)
    gw.wait_idle(5)
    assert [r.json["orderId"] for r in receiver.requests] == ["C", "B", "A"]
    [released] = gw.events(kind="delivery.released")
    assert len(released["event_ids"]) == 3


def test_reorder_shuffles_by_the_seed(gw: GatewayDouble, receiver: Receiver) -> None:
    faults = Faults.model_validate(
        {"seed": 3, "webhook": {"reorder": {"window": 5, "order": "shuffle"}}}
    )
    gw.set_faults(faults)
    orders = ["A", "B", "C", "D", "E"]
    for order_id in orders:
        _pay(gw, order_id)
    gw.wait_idle(5)
    expected = FaultDice(faults).reorder(orders)
    assert expected != orders
    assert [r.json["orderId"] for r in receiver.requests] == expected


def test_reorder_releases_a_partial_window_in_time(
    gw: GatewayDouble, receiver: Receiver
) -> None:
    gw.set_faults({"webhook": {"reorder": {"window": 5, "max_hold_seconds": 0.3}}})
    first_paid = time.time()
    _pay(gw, "A")
    _pay(gw, "B")
    received = receiver.wait_for(2, timeout=3)
    assert [r.json["orderId"] for r in received] == ["B", "A"]
    assert received[0].started - first_paid >= 0.3
    gw.wait_idle(5)


def test_drop_first_attempts(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.set_faults({"webhook": {"drop_first": 2}})
    _pay(gw, "ord_x")
    gw.wait_idle(5)
    [webhook] = receiver.requests  # the dropped attempts never reached the wire
    assert webhook.headers["x-purchaseflow-attempt"] == "3"
    assert _attempt_outcomes(gw, "ord_x") == ["dropped", "dropped", "delivered"]
    dropped = gw.attempts("ord_x")[0]
    assert dropped["status"] is None and "dropped" in dropped["error"]


def test_stale_timestamps(gw: GatewayDouble, receiver: Receiver) -> None:
    gw.configure_webhook(dialect="stripe")
    gw.set_faults({"webhook": {"stale_seconds": 600}})
    paid_at = time.time()
    _pay(gw, "ord_s")
    gw.wait_idle(5)
    [webhook] = receiver.requests
    header = webhook.signature("stripe")
    timestamp = int(header.split(",")[0].removeprefix("t="))
    assert abs(timestamp - (paid_at - 600)) <= 2
    # The signature itself is right, only old: valid at its own time, refused now.
    assert verify(DEFAULT_SECRET, header, webhook.body, now=timestamp) == timestamp
    with pytest.raises(InvalidSignature, match="tolerance"):
        verify(DEFAULT_SECRET, header, webhook.body, now=time.time())
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(webhook.body, header, DEFAULT_SECRET)


def test_stale_webhooks_are_refused_and_retried_until_given_up(
    gw: GatewayDouble, receiver: Receiver
) -> None:
    receiver.reset(secret=DEFAULT_SECRET)  # a SUT that checks signatures and tolerance
    gw.set_faults({"webhook": {"stale_seconds": 600}})
    _pay(gw, "ord_s")
    gw.wait_idle(5)
    assert [r.status for r in receiver.requests] == [400] * 5
    assert receiver.applied == []
    assert len(gw.events(order_id="ord_s", kind="delivery.gave_up")) == 1


def test_wrong_signatures_are_refused(gw: GatewayDouble, receiver: Receiver) -> None:
    receiver.reset(secret=DEFAULT_SECRET)
    gw.set_faults({"webhook": {"wrong_signature_rate": 1.0}})
    _pay(gw, "ord_bad")
    gw.wait_idle(5)
    assert [r.status for r in receiver.requests] == [400] * 5
    assert {a["signature"] for a in gw.attempts("ord_bad")} == {"wrong"}
    assert receiver.applied == []
    for request in receiver.requests:
        with pytest.raises(InvalidSignature, match="does not match"):
            verify(DEFAULT_SECRET, request.signature("generic"), request.body, time.time())


def test_wrong_signature_rate_follows_the_seed(gw: GatewayDouble, receiver: Receiver) -> None:
    receiver.reset(secret=DEFAULT_SECRET)
    faults = Faults.model_validate({"seed": 4, "webhook": {"wrong_signature_rate": 0.5}})
    gw.set_faults(faults)
    dice = FaultDice(faults)
    expected: list[int] = []
    while not expected or expected[-1] != 200:
        expected.append(400 if dice.wrong_signature() else 200)
    assert len(expected) > 1, "pick a seed whose first attempt is wrongly signed"
    _pay(gw, "ord_r")
    gw.wait_idle(5)
    assert [r.status for r in receiver.requests] == expected
    assert _attempt_outcomes(gw, "ord_r")[-1] == "delivered"
    assert len(receiver.applied) == 1


def test_webhook_faults_strike_a_seeded_share_of_events(
    gw: GatewayDouble, receiver: Receiver
) -> None:
    faults = Faults.model_validate(
        {
            "seed": 1,
            "webhook": {
                "delay_seconds": 0.5,
                "delay_rate": 0.5,
                "duplicates": {"copies": 2, "rate": 0.5},
                "stale_seconds": 900,
                "stale_rate": 0.5,
            },
        }
    )
    gw.set_faults(faults)
    dice = FaultDice(faults)
    orders = [f"ord_{n}" for n in range(6)]
    delayed, copies = {}, {}
    for order_id in orders:
        delayed[order_id] = dice.webhook_delay() > 0
        copies[order_id] = dice.copies()
    paid_at = {}
    for order_id in orders:
        paid_at[order_id] = time.time()
        _pay(gw, order_id)
    gw.wait_idle(5)
    assert set(delayed.values()) == {True, False} and set(copies.values()) == {1, 2}

    by_order: dict[str, list[Any]] = {o: [] for o in orders}
    for request in receiver.requests:
        by_order[request.json["orderId"]].append(request)
    logged = {e["order_id"]: e["seconds"] for e in gw.events(kind="fault.webhook_delay")}
    assert logged == {o: 0.5 for o in orders if delayed[o]}  # the seed's choice, logged
    for order_id in orders:
        assert len(by_order[order_id]) == copies[order_id]
        if delayed[order_id]:  # a lower bound: no timing threshold, never flaky
            waited = min(r.started for r in by_order[order_id]) - paid_at[order_id]
            assert waited >= 0.5, order_id
    # Staleness is rolled per attempt as it is signed; concurrent attempts may finish (and
    # be logged) in another order, so compare how many, not which.
    attempts = gw.attempts()
    stale = [a for a in attempts if a["sent_at"] - a["timestamp"] > 800]
    assert len(stale) == sum(dice.staleness() > 0 for _ in attempts)
    assert 0 < len(stale) < len(attempts)
