"""The gateway double's HTTP API, over a real socket (DESIGN.md section 4)."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from conformance.doubles.gateway import GatewayDouble

from .receiver import Receiver


def _post(gw: GatewayDouble, path: str, body: object, **kwargs: object) -> httpx.Response:
    return gw.client.post(path, json=body, **kwargs)  # type: ignore[arg-type]


def test_create_and_read_a_checkout_session(gw: GatewayDouble) -> None:
    body = {"amount": 2599, "currency": "EUR", "order_id": "ord_1", "success_url": "http://s/"}
    response = _post(gw, "/v1/checkout/sessions", body)
    assert response.status_code == 200
    session = response.json()
    assert session["id"].startswith("cs_")
    assert session["object"] == "checkout.session"
    assert session["url"] == f"{gw.url}/pay/{session['id']}"
    assert (session["amount_total"], session["currency"]) == (2599, "eur")
    assert session["client_reference_id"] == "ord_1"
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert gw.client.get(f"/v1/checkout/sessions/{session['id']}").json() == session


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "currency": "EUR", "order_id": "o"},
        {"amount": "12", "currency": "EUR", "order_id": "o"},
        {"amount": True, "currency": "EUR", "order_id": "o"},
        {"amount": 12, "currency": "EURO", "order_id": "o"},
        {"amount": 12, "currency": "EUR"},
        {"amount": 12, "currency": "EUR", "order_id": ""},
        [1, 2],
    ],
)
def test_bad_input_is_a_stripe_shaped_400(gw: GatewayDouble, body: object) -> None:
    response = _post(gw, "/v1/checkout/sessions", body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["message"]
    assert gw.events(kind="session") == []


def test_a_body_that_is_not_json_is_a_400(gw: GatewayDouble) -> None:
    response = gw.client.post("/v1/charges", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_session_is_404(gw: GatewayDouble) -> None:
    response = gw.client.get("/v1/checkout/sessions/cs_nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


def test_idempotency_key_gives_the_same_object(gw: GatewayDouble) -> None:
    body = {"amount": 100, "currency": "EUR", "order_id": "ord_1"}
    first = _post(gw, "/v1/checkout/sessions", body, headers={"Idempotency-Key": "k1"}).json()
    again = _post(gw, "/v1/checkout/sessions", body, headers={"Idempotency-Key": "k1"}).json()
    other = _post(gw, "/v1/checkout/sessions", body, headers={"Idempotency-Key": "k2"}).json()
    assert again["id"] == first["id"]
    assert other["id"] != first["id"]
    assert len(gw.events(kind="session.created")) == 2

    changed = {**body, "amount": 101}
    refused = _post(gw, "/v1/checkout/sessions", changed, headers={"Idempotency-Key": "k1"})
    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "idempotency_error"


def test_synchronous_charges(gw: GatewayDouble) -> None:
    ok = _post(gw, "/v1/charges", {"amount": 500, "currency": "EUR", "order_id": "o1"}).json()
    assert ok["id"].startswith("ch_")
    assert (ok["object"], ok["status"], ok["failure_code"]) == ("charge", "succeeded", None)
    assert (ok["amount"], ok["currency"], ok["order_id"]) == (500, "eur", "o1")

    body = {"amount": 500, "currency": "EUR", "order_id": "o2",
            "payment_method": "pm_card_chargeDeclined"}
    declined = _post(gw, "/v1/charges", body).json()
    assert (declined["status"], declined["failure_code"]) == ("failed", "card_declined")

    unknown = _post(gw, "/v1/charges", {**body, "payment_method": "pm_nope"})
    assert unknown.status_code == 400

    logged = gw.events(order_id="o2")
    assert [e["kind"] for e in logged] == ["charge.created"]
    assert logged[0]["status"] == "failed"
    assert gw.events(kind="delivery") == []  # synchronous: no webhook


def test_charges_honour_idempotency_keys(gw: GatewayDouble) -> None:
    body = {"amount": 500, "currency": "EUR", "order_id": "o1"}
    first = _post(gw, "/v1/charges", body, headers={"Idempotency-Key": "c"}).json()
    again = _post(gw, "/v1/charges", body, headers={"Idempotency-Key": "c"}).json()
    assert first == again
    assert len(gw.events(kind="charge.created")) == 1


@pytest.mark.parametrize(
    ("outcome", "status", "payment_status"),
    [
        ("succeeded", "complete", "paid"),
        ("failed", "complete", "unpaid"),
        ("expired", "expired", "unpaid"),
    ],
)
def test_complete_a_session(
    gw: GatewayDouble, receiver: Receiver, outcome: str, status: str, payment_status: str
) -> None:
    session = gw.create_session(700, "ord_9")
    done = _post(gw, f"/v1/checkout/sessions/{session['id']}/complete", {"outcome": outcome})
    assert done.status_code == 200
    assert (done.json()["status"], done.json()["payment_status"]) == (status, payment_status)
    assert gw.session(session["id"])["outcome"] == outcome
    gw.wait_idle(5)
    [received] = receiver.requests
    assert received.json["orderId"] == "ord_9"
    kinds = [e["kind"] for e in gw.events(order_id="ord_9")]
    assert kinds == ["session.created", "session.completed", "event.created", "delivery.attempt"]

    again = _post(gw, f"/v1/checkout/sessions/{session['id']}/complete", {"outcome": outcome})
    assert again.status_code == 409


def test_complete_needs_a_known_outcome(gw: GatewayDouble) -> None:
    session = gw.create_session(700, "ord_9")
    path = f"/v1/checkout/sessions/{session['id']}/complete"
    assert _post(gw, path, {"outcome": "maybe"}).status_code == 400
    assert _post(gw, path, {}).status_code == 400
    assert gw.session(session["id"])["status"] == "open"


def test_the_buyer_pay_page(gw: GatewayDouble, receiver: Receiver) -> None:
    session = gw.create_session(700, "ord_p")
    page = httpx.get(session["url"])
    assert page.status_code == 200
    assert "value='succeeded'" in page.text and "value='failed'" in page.text
    paid = httpx.post(session["url"], data={"outcome": "succeeded"})
    assert paid.status_code == 200
    assert gw.session(session["id"])["payment_status"] == "paid"
    assert gw.client.get("/pay/cs_nope").status_code == 404


def test_the_pay_page_sends_the_buyer_back(gw: GatewayDouble) -> None:
    ok = gw.create_session(700, "o1", success_url="http://127.0.0.1:1/ok")
    back = httpx.post(ok["url"], data={"outcome": "succeeded"})
    assert (back.status_code, back.headers["location"]) == (303, "http://127.0.0.1:1/ok")
    ko = gw.create_session(700, "o2", cancel_url="http://127.0.0.1:1/ko")
    back = httpx.post(ko["url"], data={"outcome": "failed"})
    assert (back.status_code, back.headers["location"]) == (303, "http://127.0.0.1:1/ko")


def test_events_filter_by_order_and_kind(gw: GatewayDouble) -> None:
    gw.create_session(100, "a")
    gw.create_session(200, "b")
    assert [e["order_id"] for e in gw.events()] == ["a", "b"]
    assert [e["order_id"] for e in gw.events(order_id="b")] == ["b"]
    raw = gw.client.get("/v1/events", params={"order_id": "a"}).json()
    assert raw["object"] == "list" and len(raw["data"]) == 1
    assert [e["seq"] for e in gw.events()] == [1, 2]


def test_control_faults_are_validated(gw: GatewayDouble) -> None:
    bad = gw.client.put("/_control/faults", json={"decline_rate": 2})
    assert bad.status_code == 422
    assert "decline_rate" in bad.json()["error"]["message"]
    unknown = gw.client.put("/_control/faults", json={"declines": 1})
    assert unknown.status_code == 422
    good = gw.client.put("/_control/faults", json={"seed": 3, "decline_rate": 0.5})
    assert good.status_code == 200
    assert gw.client.get("/_control/faults").json()["decline_rate"] == 0.5
    with pytest.raises(ValueError, match="duplicates"):
        gw.set_faults({"webhook": {"duplicates": {"copies": 0}}})


def test_webhook_targets_must_be_on_loopback(gw: GatewayDouble) -> None:
    response = httpx.put(
        gw.url + "/_control/webhook", json={"url": "http://example.com/hook", "secret": "s"}
    )
    assert response.status_code == 422
    assert "loopback" in response.json()["error"]["message"]
    with pytest.raises(ValueError, match="loopback"):
        gw.configure_webhook("http://10.0.0.1/hook")
    with pytest.raises(ValueError, match="loopback"):
        GatewayDouble(webhook_url="https://stripe.example/hook")
    assert gw.configure_webhook("http://localhost:9/x").url == "http://localhost:9/x"


def test_reset_forgets_everything(gw: GatewayDouble) -> None:
    session = gw.create_session(100, "a")
    gw.reset()
    assert gw.events() == []
    assert gw.client.get(f"/v1/checkout/sessions/{session['id']}").status_code == 404
    assert gw.client.get("/healthz").json() == {"status": "ok"}


def test_stops_cleanly_without_leaking_threads_or_ports() -> None:
    before = set(threading.enumerate())
    with GatewayDouble() as gw:
        port = gw.port
        gw.create_session(100, "a")
    assert set(threading.enumerate()) == before
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
