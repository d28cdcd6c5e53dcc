"""The mail sink (DESIGN.md section 4): real SMTP on loopback that records every message.

    store.py    the messages, indexed by order id; the aiosmtpd handler
    app.py      SMTP server and HTTP API on one event loop
    server.py   MailSink: the sink in process, for tests

``purchaseflow mailsink`` is ``conformance/doubles/mailsink_command.py``.
"""

from conformance.doubles.mailsink.server import MailSink
from conformance.doubles.mailsink.store import ORDER_HEADER, MailMessage

__all__ = ["ORDER_HEADER", "MailMessage", "MailSink"]
