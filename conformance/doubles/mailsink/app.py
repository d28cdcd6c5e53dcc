"""The mail sink's servers: SMTP (aiosmtpd) and a small HTTP API, on one event loop.

    GET    /messages[?order_id=]   {"object": "list", "data": [message, ...]}, oldest first
    GET    /messages/{id}          one message
    GET    /messages/{id}/raw      its raw RFC 5322 text, as received
    DELETE /messages               forget every message
    GET    /healthz

The SMTP server starts and stops with the HTTP app (its lifespan), on a socket bound by
the caller, so one thread and one loop run both.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiosmtpd.smtp import SMTP
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from conformance.doubles.mailsink.store import MailStore, RecordingHandler

SMTP_HOSTNAME = "mailsink.purchaseflow.test"  # the name in the SMTP greeting, not resolved


def create_app(store: MailStore, smtp_socket: socket.socket) -> FastAPI:
    handler = RecordingHandler(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        # hostname is given so that aiosmtpd does not call socket.getfqdn(), which can
        # stall on a machine without DNS.
        server = await loop.create_server(
            lambda: SMTP(handler, hostname=SMTP_HOSTNAME, enable_SMTPUTF8=True, loop=loop),
            sock=smtp_socket,
        )
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    app = FastAPI(
        title="purchaseflow mail sink", lifespan=lifespan, docs_url=None, redoc_url=None
    )

    def not_found(message_id: str) -> JSONResponse:
        return JSONResponse({"error": f"no such message {message_id!r}"}, status_code=404)

    @app.get("/messages")
    async def messages(order_id: str | None = None) -> dict[str, Any]:
        return {"object": "list", "data": [m.to_json() for m in store.messages(order_id)]}

    @app.get("/messages/{message_id}", response_model=None)
    async def message(message_id: str) -> dict[str, Any] | JSONResponse:
        found = store.get(message_id)
        return found.to_json() if found else not_found(message_id)

    @app.get("/messages/{message_id}/raw")
    async def raw(message_id: str) -> Response:
        found = store.get(message_id)
        if found is None:
            return not_found(message_id)
        return Response(found.raw, media_type="message/rfc822")

    @app.delete("/messages")
    async def clear() -> dict[str, int]:
        return {"deleted": store.clear()}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
