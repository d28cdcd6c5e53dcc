"""``GatewayDouble``: the gateway double in process, on 127.0.0.1 and an ephemeral port.

    with GatewayDouble(secret="whsec_x", dialect="stripe") as gw:
        shop = start_shop(gateway_url=gw.url)              # the SUT calls gw.url
        gw.configure_webhook(url=shop.url + "/webhook")     # ports known, now wire back
        ...                                                 # the SUT creates a session
        gw.complete(session_url_or_id, "succeeded")
        gw.wait_idle(5)                                     # every webhook settled
        assert gw.events(order_id=..., kind="delivery.attempt")[-1]["outcome"] == "delivered"

The methods speak to the double over its own HTTP API (the control and buyer endpoints,
which no fault touches), so what a test drives is exactly what the CLI serves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from conformance.doubles._serving import ServerThread
from conformance.doubles.gateway.app import create_app
from conformance.doubles.gateway.config import DEFAULT_SECRET, DeliveryPolicy, WebhookTarget
from conformance.doubles.gateway.core import Gateway
from conformance.doubles.gateway.faults import Faults, parse_faults
from conformance.doubles.gateway.store import SqliteStore
from reference_impl.domain.policies import WebhookDialect

_UNSET: Any = object()


class GatewayDouble:
    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        secret: str = DEFAULT_SECRET,
        dialect: WebhookDialect | str = WebhookDialect.GENERIC,
        faults: Faults | Mapping[str, Any] | None = None,
        delivery: DeliveryPolicy | Mapping[str, Any] | None = None,
        state_file: str | Path | None = None,
        port: int = 0,
    ) -> None:
        """Raises ValueError for a bad target, fault or delivery setting (a non-loopback
        webhook URL included) and StateError for an unusable state file."""
        target = WebhookTarget(url=webhook_url, secret=secret, dialect=WebhookDialect(dialect))
        policy = (
            delivery
            if isinstance(delivery, DeliveryPolicy)
            else DeliveryPolicy.model_validate(dict(delivery or {}))
        )
        checked_faults = parse_faults(faults)
        store = SqliteStore(state_file) if state_file is not None else None
        self._gateway = Gateway(target=target, faults=checked_faults, policy=policy, store=store)
        self._server = ServerThread(create_app(self._gateway), port=port, name="gateway-double")
        self._client: httpx.Client | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self._server.start()
        except BaseException:
            # The server's shutdown closes the state store; it never ran, so close it here.
            self._gateway.ledger.store.close()
            raise
        self._client = httpx.Client(base_url=self.url, timeout=10.0, trust_env=False)
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._server.stop()

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
    def url(self) -> str:
        """The base URL a SUT calls, e.g. ``http://127.0.0.1:40123``."""
        return self._server.url

    @property
    def client(self) -> httpx.Client:
        """An HTTP client on :attr:`url`, for raw calls (statuses, headers, timeouts)."""
        if self._client is None:
            raise RuntimeError("the gateway double is not started")
        return self._client

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def running(self) -> bool:
        return self._server.running

    # -- driving and observing ------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if response.status_code == 422:
            raise ValueError(response.json()["error"]["message"])
        response.raise_for_status()
        return response.json()

    def create_session(
        self, amount: int, order_id: str, currency: str = "EUR", **extra: Any
    ) -> dict[str, Any]:
        """What a SUT does first; here for tests that play the SUT themselves."""
        body = {"amount": amount, "currency": currency, "order_id": order_id, **extra}
        return dict(self._call("POST", "/v1/checkout/sessions", json=body))

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/v1/checkout/sessions/{_session_id(session_id)}"))

    def complete(self, session: str, outcome: str = "succeeded") -> dict[str, Any]:
        """Complete a session as the buyer would; ``session`` is its id or its pay URL."""
        path = f"/v1/checkout/sessions/{_session_id(session)}/complete"
        return dict(self._call("POST", path, json={"outcome": outcome}))

    def events(self, order_id: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("order_id", order_id), ("kind", kind)) if v is not None}
        return list(self._call("GET", "/v1/events", params=params)["data"])

    def attempts(self, order_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery attempts in the log, oldest first."""
        return self.events(order_id=order_id, kind="delivery.attempt")

    def faults(self) -> Faults:
        return Faults.model_validate(self._call("GET", "/_control/faults"))

    def set_faults(self, faults: Faults | Mapping[str, Any]) -> Faults:
        """Replace the faults (validated here first; ValueError if invalid)."""
        body = parse_faults(faults).model_dump(mode="json")
        return Faults.model_validate(self._call("PUT", "/_control/faults", json=body))

    def configure_webhook(
        self,
        url: str | None = _UNSET,
        *,
        secret: str = _UNSET,
        dialect: WebhookDialect | str = _UNSET,
    ) -> WebhookTarget:
        """Change the webhook target; arguments left out keep their current value."""
        current = self._call("GET", "/_control/webhook")
        for key, value in (("url", url), ("secret", secret), ("dialect", dialect)):
            if value is not _UNSET:
                current[key] = str(value) if key == "dialect" else value
        return WebhookTarget.model_validate(self._call("PUT", "/_control/webhook", json=current))

    def status(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_control/status"))

    def reset(self) -> None:
        self._call("POST", "/_control/reset")

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no delivery is pending, held or in flight; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not self.status()["idle"]:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"gateway double still busy after {timeout:g} s: {self.status()}"
                )
            time.sleep(0.01)


def _session_id(session: str) -> str:
    return session.rstrip("/").rsplit("/", 1)[-1]
