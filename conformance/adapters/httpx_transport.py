"""Sending ``HttpCall``s with httpx: over a real socket, or into an ASGI app in this process."""

from __future__ import annotations

import time
import warnings
from typing import Any

import httpx

from conformance.adapters.base import AdapterError, HttpCall, Outcome, interpret


class HttpxTransport:
    def __init__(self, base_url: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None,
                 client: httpx.Client | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(base_url=self.base_url, timeout=timeout,
                                              transport=transport, trust_env=False)

    def send(self, call: HttpCall) -> Outcome:
        started = time.perf_counter()
        try:
            response = self._client.request(
                call.method, call.path, json=call.json, headers=call.headers,
                params=call.params, content=call.content)
        except httpx.HTTPError as exc:
            raise AdapterError(
                f"{call.method} {self.base_url}{call.path}: {type(exc).__name__}: {exc}"
            ) from exc
        elapsed = time.perf_counter() - started
        # Stateless: a shop's session cookie is the adapter's to keep and send (a cart
        # handle), never the client's to replay on every later request.
        self._client.cookies.clear()
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        headers = {name.lower(): value for name, value in response.headers.items()}
        return interpret(call, response.status_code, body, elapsed, headers)

    def close(self) -> None:
        self._client.close()


class InProcessTransport(HttpxTransport):
    """An ASGI app (a FastAPI shop) reached without a socket, its lifespan run.

    httpx's own ``ASGITransport`` is async-only, and the suite's rules are synchronous
    (Hypothesis rules cannot be async), so this uses Starlette's synchronous test client: the
    app runs on one event-loop thread, and calls from several threads (the races) reach it
    concurrently. ``app`` is kept for the schema checks (Schemathesis ``from_asgi``).
    """

    def __init__(self, app: Any, *, base_url: str = "http://shop.local") -> None:
        with warnings.catch_warnings():
            # Starlette nudges its test client towards httpx2; this one works as it is.
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient

        self.app = app
        # raise_server_exceptions=False: a crash must reach the harness as the 500 a real
        # server would send, not as a Python exception.
        self._test_client = TestClient(app, base_url=base_url, raise_server_exceptions=False)
        self._test_client.__enter__()  # lifespan: the shop's background workers start
        super().__init__(base_url, client=self._test_client)

    def close(self) -> None:
        self._test_client.__exit__(None, None, None)
