"""A tiny real webhook receiver for the doubles' tests: what arrived on the wire, and when.

It plays a SUT's webhook endpoint on 127.0.0.1: it records every request (headers, raw
body, start and end times), answers with scripted statuses, can be slow, can check
signatures like a real shop (400 when they do not verify), and applies each event id at
most once, as DESIGN.md I3 demands of a SUT.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from fastapi import FastAPI, Request, Response

from conformance.doubles._serving import ServerThread
from reference_impl.domain.errors import InvalidSignature
from reference_impl.domain.policies import WebhookDialect
from reference_impl.domain.signatures import SIGNATURE_HEADERS, verify


@dataclass(frozen=True)
class Received:
    started: float  # unix seconds
    finished: float
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return str(self.json["id"])

    def signature(self, dialect: WebhookDialect | str) -> str:
        return self.headers[SIGNATURE_HEADERS[WebhookDialect(dialect)].lower()]


class Receiver:
    def __init__(
        self,
        *,
        statuses: Iterable[int] = (),
        default_status: int = 200,
        delay: float = 0.0,
        secret: str | None = None,
        dialect: WebhookDialect | str = WebhookDialect.GENERIC,
        sock: socket.socket | None = None,
    ) -> None:
        """``statuses`` answer the first requests in turn, then ``default_status``. With a
        ``secret`` the signature is checked first, and a bad one gets 400."""
        self._statuses = list(statuses)
        self.default_status = default_status
        self.delay = delay
        self.secret = secret
        self.dialect = WebhookDialect(dialect)
        self._lock = threading.Condition()
        self._requests: list[Received] = []
        self._applied: list[str] = []
        self._server = ServerThread(self._app(), sock=sock, name="test-receiver")

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{path:path}")
        async def hook(path: str, request: Request) -> Response:
            started = time.time()
            body = await request.body()
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self._answer(request, body)
            with self._lock:
                self._requests.append(
                    Received(started, time.time(), dict(request.headers), body, status)
                )
                self._lock.notify_all()
            return Response(status_code=status)

        return app

    def _answer(self, request: Request, body: bytes) -> int:
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else self.default_status
        if self.secret is not None:
            header = request.headers.get(SIGNATURE_HEADERS[self.dialect])
            try:
                verify(self.secret, header, body, now=time.time())
            except InvalidSignature:
                return 400
        if 200 <= status < 300:
            event_id = json.loads(body)["id"]
            with self._lock:
                if event_id not in self._applied:
                    self._applied.append(event_id)
        return status

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{self._server.url}/webhook"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    @property
    def applied(self) -> list[str]:
        """Event ids in the order they took effect, each once."""
        with self._lock:
            return list(self._applied)

    def reset(
        self,
        *,
        statuses: Iterable[int] = (),
        default_status: int = 200,
        delay: float = 0.0,
        secret: str | None = None,
        dialect: WebhookDialect | str = WebhookDialect.GENERIC,
    ) -> None:
        """Forget what arrived and answer from now on as a new receiver would."""
        with self._lock:
            self._requests.clear()
            self._applied.clear()
            self._statuses = list(statuses)
            self.default_status = default_status
            self.delay = delay
            self.secret = secret
            self.dialect = WebhookDialect(dialect)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} webhooks in {timeout} s")
            return list(self._requests)
