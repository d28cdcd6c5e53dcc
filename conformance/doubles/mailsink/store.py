"""Every message the SMTP sink accepted, indexed by order id (DESIGN.md section 4, I7).

A message belongs to an order through its ``X-Purchaseflow-Order-Id`` header, which the
reference implementation sets; a message without that header belongs to every order id
that appears as a whole word in its subject, so that a SUT that only writes
"Order 1234 confirmed" can still be checked.

The SMTP handler (on the server's event loop) writes and tests read from their own thread,
so the store is guarded by one lock and ``wait_for`` blocks on its condition.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

ORDER_HEADER = "X-Purchaseflow-Order-Id"


@dataclass(frozen=True, slots=True)
class MailMessage:
    id: str
    received_at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    order_id: str | None  # from the header only
    headers: tuple[tuple[str, str], ...]
    text: str
    raw: bytes

    def belongs_to(self, order_id: str) -> bool:
        if self.order_id is not None:
            return self.order_id == order_id
        return re.search(rf"(?<![\w-]){re.escape(order_id)}(?![\w-])", self.subject) is not None

    @property
    def message_id(self) -> str | None:
        """The Message-ID header: the sink keeps every copy it receives (I7 is checked on
        the wire), so a test that forgives redelivered copies compares these."""
        return self.header("Message-ID")

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at,
            "mail_from": self.mail_from,
            "rcpt_tos": list(self.rcpt_tos),
            "subject": self.subject,
            "order_id": self.order_id,
            "message_id": self.message_id,
            "headers": [list(pair) for pair in self.headers],
            "text": self.text,
        }


def parse_message(
    number: int, mail_from: str, rcpt_tos: list[str], content: bytes, received_at: float
) -> MailMessage:
    parsed = message_from_bytes(content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    order_id = parsed.get(ORDER_HEADER)
    return MailMessage(
        id=f"msg_{number}",
        received_at=received_at,
        mail_from=mail_from,
        rcpt_tos=tuple(rcpt_tos),
        subject=str(parsed.get("Subject", "")),
        order_id=str(order_id).strip() if order_id is not None else None,
        headers=tuple((k, str(v)) for k, v in parsed.items()),
        text=_text_of(parsed),
        raw=content,
    )


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, KeyError):
        return ""
    return content if isinstance(content, str) else ""


class MailStore:
    def __init__(self) -> None:
        self._messages: list[MailMessage] = []
        self._changed = threading.Condition()
        self._count = 0

    def add(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> MailMessage:
        with self._changed:
            self._count += 1
            message = parse_message(self._count, mail_from, rcpt_tos, content, time.time())
            self._messages.append(message)
            self._changed.notify_all()
        return message

    def messages(self, order_id: str | None = None) -> list[MailMessage]:
        with self._changed:
            return self._select(order_id)

    def get(self, message_id: str) -> MailMessage | None:
        with self._changed:
            return next((m for m in self._messages if m.id == message_id), None)

    def wait_for(
        self, order_id: str | None, count: int = 1, timeout: float = 5.0
    ) -> list[MailMessage]:
        """Block until at least ``count`` messages match; return them all, or raise
        TimeoutError. To check *exactly* n, wait for n, then look again a moment later."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._select(order_id)) >= count, timeout):
                got = len(self._select(order_id))
                whose = f" for order {order_id}" if order_id is not None else ""
                raise TimeoutError(
                    f"{got} of {count} messages{whose} arrived within {timeout:g} s"
                )
            return self._select(order_id)

    def clear(self) -> int:
        with self._changed:
            count = len(self._messages)
            self._messages.clear()
            self._changed.notify_all()
        return count

    def _select(self, order_id: str | None) -> list[MailMessage]:
        if order_id is None:
            return list(self._messages)
        return [m for m in self._messages if m.belongs_to(order_id)]


class RecordingHandler:
    """The aiosmtpd handler: accept every message and record it."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        self.store.add(str(envelope.mail_from), list(envelope.rcpt_tos), content)
        return "250 Message accepted for delivery"
