"""Doubles someone else started: a ``purchaseflow gateway`` and ``purchaseflow mailsink``
already running (``--gateway-url``, ``--mail-url``), driven over their HTTP APIs."""

from __future__ import annotations

import time
from typing import Any

import httpx

from conformance.doubles.gateway import GatewayDouble


class RemoteGateway(GatewayDouble):
    """The gateway double's client side (complete, events, control...) on a running double.

    ``GatewayDouble`` drives its own server through its HTTP API; this one only skips
    starting a server of its own.
    """

    def __init__(self, url: str) -> None:  # no server to build
        self._url = url.rstrip("/")
        self._client = None

    def start(self) -> RemoteGateway:
        self._client = httpx.Client(base_url=self._url, timeout=10.0, trust_env=False)
        self.status()
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def url(self) -> str:
        return self._url

    @property
    def port(self) -> int:
        return int(httpx.URL(self._url).port or 80)

    @property
    def running(self) -> bool:
        return self._client is not None


class RemoteMailbox:
    """A running mail sink's messages, by order id (``GET /messages?order_id=``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)

    def messages(self, order_id: str | None = None) -> list[dict[str, Any]]:
        params = {"order_id": order_id} if order_id else None
        response = self._client.get("/messages", params=params)
        response.raise_for_status()
        return list(response.json()["data"])

    def wait_for(self, order_id: str | None, count: int = 1,
                 timeout: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages(order_id)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(found)} of {count} messages within {timeout:g} s")
            time.sleep(0.05)

    def clear(self) -> None:
        self._client.delete("/messages").raise_for_status()

    def close(self) -> None:
        self._client.close()
