"""The shop's client of the payment gateway (seeds 000, 001, 004: checkout session; 002: charge).

Calls are retried on connection errors, timeouts and 5xx with the same ``Idempotency-Key``,
so a retry after a lost response can never open a second session or charge twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from reference_impl.domain.order import Order
from reference_impl.domain.payment import PaymentOutcome


class GatewayUnavailable(Exception):
    """The gateway did not answer usefully after every retry."""


@dataclass(frozen=True, slots=True)
class SessionCreated:
    session_id: str
    url: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    charge_id: str
    outcome: PaymentOutcome


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.1,
        public_url: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        self._retries, self._backoff = retries, backoff
        self._public_url = public_url.rstrip("/")

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        last = "no attempt"
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                response = self._client.post(
                    path, json=body, headers={"Idempotency-Key": idempotency_key}
                )
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise GatewayUnavailable(f"gateway refused {path}: HTTP {response.status_code}")
            try:
                data = response.json()
            except ValueError:
                last = "response was not JSON"
                continue
            if isinstance(data, dict):
                return data
            last = "response was not a JSON object"
        raise GatewayUnavailable(f"gateway {path} failed after {self._retries + 1} tries: {last}")

    def create_checkout_session(self, order: Order) -> SessionCreated:
        data = self._post(
            "/v1/checkout/sessions",
            {
                "amount": order.total.amount,
                "currency": order.total.currency,
                "order_id": order.order_id,
                "success_url": f"{self._public_url}/orders/{order.order_id}",
                "cancel_url": f"{self._public_url}/orders/{order.order_id}",
            },
            idempotency_key=f"session-{order.order_id}",
        )
        try:
            return SessionCreated(str(data["id"]), str(data["url"]))
        except KeyError as exc:
            raise GatewayUnavailable(f"gateway session lacks {exc}") from None

    def charge(self, order: Order, payment_method: str | None) -> ChargeResult:
        body: dict[str, Any] = {
            "amount": order.total.amount,
            "currency": order.total.currency,
            "order_id": order.order_id,
        }
        if payment_method:
            body["payment_method"] = payment_method
        data = self._post("/v1/charges", body, idempotency_key=f"charge-{order.order_id}")
        status = data.get("status")
        outcome = PaymentOutcome.SUCCEEDED if status == "succeeded" else PaymentOutcome.FAILED
        return ChargeResult(str(data.get("id", "")), outcome)
