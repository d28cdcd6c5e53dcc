"""The SMTP sink: real SMTP in, messages out by order id (DESIGN.md section 4, I7)."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest

from conformance.doubles.mailsink import ORDER_HEADER, MailSink


@pytest.fixture(scope="module")
def shared_sink() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def sink(shared_sink: MailSink) -> MailSink:
    shared_sink.clear()
    return shared_sink


def send(
    sink: MailSink, subject: str, order_id: str | None = None, to: str = "buyer@example.test"
) -> None:
    message = EmailMessage()
    message["From"] = "shop@example.test"
    message["To"] = to
    message["Subject"] = subject
    if order_id is not None:
        message[ORDER_HEADER] = order_id
    message.set_content(f"Thank you for your order. {subject}")
    with smtplib.SMTP(sink.smtp_host, sink.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def test_messages_are_indexed_by_the_order_header(sink: MailSink) -> None:
    send(sink, "Your order is confirmed", order_id="ord_1")
    send(sink, "Your order is confirmed", order_id="ord_2")
    [message] = sink.messages("ord_1")
    assert message.order_id == "ord_1"
    assert message.subject == "Your order is confirmed"
    assert message.mail_from == "shop@example.test"
    assert message.rcpt_tos == ("buyer@example.test",)
    assert "Thank you for your order" in message.text
    assert message.header("x-purchaseflow-order-id") == "ord_1"
    assert message.message_id is None  # this test's sender sets none
    assert len(sink.messages()) == 2


def test_without_the_header_the_subject_is_searched(sink: MailSink) -> None:
    send(sink, "Order ord_10 confirmed")
    send(sink, "Order ord_1 confirmed")
    assert [m.subject for m in sink.messages("ord_1")] == ["Order ord_1 confirmed"]
    assert [m.subject for m in sink.messages("ord_10")] == ["Order ord_10 confirmed"]
    assert sink.messages("ord") == []


def test_the_header_wins_over_the_subject(sink: MailSink) -> None:
    send(sink, "Order ord_1 confirmed", order_id="ord_2")
    assert sink.messages("ord_1") == []
    assert len(sink.messages("ord_2")) == 1


def test_wait_for_blocks_until_the_message_arrives(sink: MailSink) -> None:
    later = threading.Timer(0.2, send, args=(sink, "Confirmed", "ord_w"))
    later.start()
    try:
        [message] = sink.wait_for("ord_w", count=1, timeout=5)
    finally:
        later.join()
    assert message.order_id == "ord_w"
    with pytest.raises(TimeoutError, match="1 of 2 messages for order ord_w"):
        sink.wait_for("ord_w", count=2, timeout=0.2)


def test_the_http_api(sink: MailSink) -> None:
    send(sink, "Confirmed", order_id="ord_h")
    send(sink, "Something else", order_id="ord_x")
    with httpx.Client(base_url=sink.http_url) as http:
        listed = http.get("/messages", params={"order_id": "ord_h"}).json()
        assert listed["object"] == "list"
        [message] = listed["data"]
        assert message["order_id"] == "ord_h"
        assert message["subject"] == "Confirmed"
        assert message["rcpt_tos"] == ["buyer@example.test"]
        assert len(http.get("/messages").json()["data"]) == 2
        assert http.get(f"/messages/{message['id']}").json() == message
        raw = http.get(f"/messages/{message['id']}/raw")
        assert raw.headers["content-type"] == "message/rfc822"
        assert b"Subject: Confirmed" in raw.content
        assert http.get("/messages/msg_nope").status_code == 404
        assert http.delete("/messages").json() == {"deleted": 2}
        assert http.get("/messages").json()["data"] == []
        assert http.get("/healthz").json() == {"status": "ok"}


def test_stops_cleanly_without_leaking_threads_or_ports() -> None:
    before = set(threading.enumerate())
    with MailSink() as sink:
        ports = (sink.smtp_port, int(sink.http_url.rsplit(":", 1)[1]))
        send(sink, "Confirmed", order_id="o")
    assert set(threading.enumerate()) == before
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
