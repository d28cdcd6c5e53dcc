"""``MailSink``: the SMTP sink in process, on 127.0.0.1 and ephemeral ports.

    with MailSink() as mail:
        shop = start_shop(smtp_host="127.0.0.1", smtp_port=mail.smtp_port)
        ...
        [confirmation] = mail.wait_for(order_id, count=1, timeout=5)
        time.sleep(0.2); assert len(mail.messages(order_id)) == 1   # exactly once (I7)

Reads go straight to the store; ``http_url`` serves the same data to other processes.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from conformance.doubles._serving import LOOPBACK, ServerThread, bind_loopback
from conformance.doubles.mailsink.app import create_app
from conformance.doubles.mailsink.store import MailMessage, MailStore


class MailSink:
    smtp_host = LOOPBACK

    def __init__(self, *, smtp_port: int = 0, http_port: int = 0) -> None:
        self._smtp_port_wanted = smtp_port
        self._http_port_wanted = http_port
        self.store = MailStore()
        self._smtp_port: int | None = None
        self._server: ServerThread | None = None

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the mail sink is already started")
        smtp_socket = bind_loopback(self._smtp_port_wanted)
        self._smtp_port = int(smtp_socket.getsockname()[1])
        server = ServerThread(
            create_app(self.store, smtp_socket), port=self._http_port_wanted, name="mail-sink"
        )
        try:
            server.start()
        except BaseException:
            smtp_socket.close()
            raise
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def smtp_port(self) -> int:
        if self._smtp_port is None:
            raise RuntimeError("the mail sink is not started")
        return self._smtp_port

    @property
    def http_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the mail sink is not started")
        return self._server.url

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    def messages(self, order_id: str | None = None) -> list[MailMessage]:
        return self.store.messages(order_id)

    def wait_for(
        self, order_id: str | None, count: int = 1, timeout: float = 5.0
    ) -> list[MailMessage]:
        return self.store.wait_for(order_id, count, timeout)

    def clear(self) -> None:
        self.store.clear()
