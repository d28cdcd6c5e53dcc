"""Sending ``HttpCall``s with httpx: over a real socket, or in process (ASGITransport)."""

from __future__ import annotations

import time

import httpx

from conformance.adapters.base import AdapterError, HttpCall, Outcome, interpret


class HttpxTransport:
    def __init__(self, base_url: str, *, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout,
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
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        return interpret(call, response.status_code, body, elapsed)

    def close(self) -> None:
        self._client.close()
