"""Confirmation email over SMTP (seed 001: "EmailService: Send email with order details").

Each message carries its order id in ``X-Purchaseflow-Order-Id`` and in the Message-ID, so
a receiver can drop the duplicates that at-least-once delivery allows (I7).
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

ORDER_ID_HEADER = "X-Purchaseflow-Order-Id"


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout: float = 5.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send_confirmation(self, *, order_id: str, to: str, total: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = f"Order {order_id} confirmed"
        message["Message-ID"] = f"<confirmation.{order_id}@purchaseflow.test>"
        message[ORDER_ID_HEADER] = order_id
        message.set_content(
            f"Thank you for your order {order_id}.\nTotal paid: {total}.\n"
        )
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)
