"""``--state FILE``: pending deliveries, sessions and the log survive a restart of the double."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from conformance.doubles._serving import bind_loopback
from conformance.doubles.gateway import GatewayDouble, StateError

from .conftest import FAST_DELIVERY
from .receiver import Receiver

PATIENT = {**FAST_DELIVERY, "max_attempts": 100}


def _double(state: Path, url: str, **kwargs: Any) -> GatewayDouble:
    return GatewayDouble(webhook_url=url, state_file=state, delivery=PATIENT, **kwargs)


def test_pending_deliveries_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "gateway.sqlite"
    sock = bind_loopback()  # the SUT is down: connections are refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"

    with _double(state, url) as first:
        session = first.client.post(
            "/v1/checkout/sessions",
            json={"amount": 1000, "currency": "EUR", "order_id": "ord_p"},
            headers={"Idempotency-Key": "key-1"},
        ).json()
        first.complete(session["id"])
        while len(first.attempts("ord_p")) < 2:
            time.sleep(0.01)
    # The double stopped with the delivery pending; now the SUT comes back, then the double.

    with Receiver(sock=sock) as receiver, _double(state, url) as second:
        second.wait_idle(5)
        assert len(receiver.requests) == 1
        assert receiver.applied == [receiver.requests[0].event_id]
        attempts = second.attempts("ord_p")
        assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
        assert [a["outcome"] for a in attempts][-1] == "delivered"
        assert all(a["status"] is None for a in attempts[:-1])  # refused before the restart
        assert second.session(session["id"])["payment_status"] == "paid"
        again = second.client.post(
            "/v1/checkout/sessions",
            json={"amount": 1000, "currency": "EUR", "order_id": "ord_p"},
            headers={"Idempotency-Key": "key-1"},
        ).json()
        assert again["id"] == session["id"]

    with _double(state, url) as third:
        assert third.status()["pending"] == 0
        assert third.status()["idle"]


def test_events_held_for_reordering_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "gateway.sqlite"
    holding = {"webhook": {"reorder": {"window": 5, "max_hold_seconds": 60}}}
    with _double(state, receiver.url, faults=holding) as first:
        first.complete(first.create_session(1000, "ord_h")["id"])
        assert first.status()["held"] == 1
    with _double(state, receiver.url) as second:
        second.wait_idle(5)
    assert len(receiver.applied) == 1


def test_an_unusable_state_file_is_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("this is not a database\n" * 100)
    with pytest.raises(StateError, match="cannot use state file"):
        GatewayDouble(state_file=junk)
    with pytest.raises(StateError, match="cannot use state file"):
        GatewayDouble(state_file=tmp_path / "missing-dir" / "state.sqlite")
