"""The adapter for shops that speak the canonical contract (``conformance/openapi.json``)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from conformance.adapters.base import AdapterError, Outcome, ShopAdapter
from scenarios.catalog_setup import ShopSetup

SHIPPING = {"name": "Harness Buyer", "address": "1 Loopback Road", "city": "Localhost",
            "postal_code": "12700", "country": "FR"}


class CanonicalAdapter(ShopAdapter):
    """Buyers get their JWTs from ``POST /admin/tokens``; admin calls carry the admin token.

    ``transport`` lets a test reach an in-process app (``httpx.ASGITransport``) through the
    very same adapter that reaches a real socket, like httpx's pluggable transports.
    """

    def __init__(
        self,
        base_url: str,
        *,
        admin_token: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._admin = {"X-Admin-Token": admin_token}
        self._client = httpx.Client(base_url=self.base_url, timeout=timeout,
                                    transport=transport, trust_env=False)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self._client.close()

    # -- plumbing -------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, json: Any = None,
              headers: dict[str, str] | None = None, params: dict[str, Any] | None = None
              ) -> Outcome:
        request = {"method": method, "path": path, "json": json, "headers": headers or {},
                   "params": params}
        started = time.perf_counter()
        try:
            response = self._client.request(method, path, json=json, headers=headers,
                                            params=params)
        except httpx.HTTPError as exc:
            raise AdapterError(f"{method} {self.base_url}{path}: {type(exc).__name__}: {exc}"
                               ) from exc
        elapsed = time.perf_counter() - started
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        ok = response.is_success
        code = None
        if not ok:
            code = body.get("code") if isinstance(body, dict) else None
            code = str(code) if code else f"http_{response.status_code}"
        return Outcome(ok, response.status_code, code, body, request, elapsed)

    def _admin_call(self, method: str, path: str, json: Any = None,
                    params: dict[str, Any] | None = None) -> Any:
        outcome = self._send(method, path, json=json, headers=self._admin, params=params)
        if not outcome.ok:
            raise AdapterError(f"{method} {path} refused: HTTP {outcome.status} {outcome.body}")
        return outcome.body

    def auth(self, buyer: str | None) -> dict[str, str]:
        if buyer is None:
            return {}
        if buyer not in self._tokens:
            body = self._admin_call("POST", "/admin/tokens", {"user_id": buyer})
            self._tokens[buyer] = str(body["token"])
        return {"Authorization": f"Bearer {self._tokens[buyer]}"}

    # -- setup ----------------------------------------------------------------------------

    def reset(self) -> None:
        self._admin_call("POST", "/admin/reset")

    def set_up(self, setup: ShopSetup) -> None:
        self._admin_call("PUT", "/admin/catalog", {
            "locations": [{"location_id": loc.location_id, "name": loc.name}
                          for loc in setup.locations],
            "products": [
                {"product_id": p.product_id, "name": p.name, "description": p.description,
                 "variants": [
                     {"variant_id": v.variant_id, "sku": v.sku, "name": v.name,
                      "price": v.price.to_json(), "deliverable": v.deliverable}
                     for v in p.variants]}
                for p in setup.products],
        })
        if setup.accounts:
            self._admin_call("PUT", "/admin/accounts", {"accounts": [
                {"user_id": a.user_id, "email": a.email, "active": a.active}
                for a in setup.accounts]})
        if setup.stock:
            self._admin_call("POST", "/admin/stock", {"entries": [
                {"variant_id": v, "location_id": loc, "quantity": q}
                for v, loc, q in setup.stock]})

    # -- buyer operations -----------------------------------------------------------------

    def list_products(self, buyer: str | None = None) -> Outcome:
        return self._send("GET", "/products", headers=self.auth(buyer), params={"limit": 100})

    def view_product(self, product_id: str, buyer: str | None = None) -> Outcome:
        return self._send("GET", f"/products/{product_id}", headers=self.auth(buyer))

    def create_cart(self, buyer: str | None) -> Outcome:
        return self._send("POST", "/carts", headers=self.auth(buyer))

    def read_cart(self, buyer: str | None, cart_id: str) -> Outcome:
        return self._send("GET", f"/carts/{cart_id}", headers=self.auth(buyer))

    def set_line(self, buyer: str | None, cart_id: str, variant_id: str, location_id: str,
                 quantity: int) -> Outcome:
        return self._send("PUT", f"/carts/{cart_id}/items/{variant_id}", headers=self.auth(buyer),
                          json={"quantity": quantity, "location_id": location_id})

    def remove_line(self, buyer: str | None, cart_id: str, variant_id: str) -> Outcome:
        return self._send("DELETE", f"/carts/{cart_id}/items/{variant_id}",
                          headers=self.auth(buyer))

    def place_order(self, buyer: str, cart_id: str, *, idempotency_key: str | None = None,
                    expected_total: dict[str, Any] | None = None,
                    payment_method: str | None = None) -> Outcome:
        body: dict[str, Any] = {"cart_id": cart_id, "shipping": SHIPPING}
        if expected_total is not None:
            body["expected_total"] = expected_total
        if payment_method is not None:
            body["payment_method"] = payment_method
        headers = self.auth(buyer)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return self._send("POST", "/orders", json=body, headers=headers)

    def read_order(self, buyer: str, order_id: str) -> Outcome:
        return self._send("GET", f"/orders/{order_id}", headers=self.auth(buyer))

    def payment_link(self, buyer: str, order_id: str) -> Outcome:
        return self._send("GET", f"/orders/{order_id}/payment", headers=self.auth(buyer))

    # -- inspection -----------------------------------------------------------------------

    def stock(self) -> list[dict[str, Any]]:
        return list(self._admin_call("GET", "/admin/stock"))

    def orders(self) -> list[dict[str, Any]]:
        return list(self._admin_call("GET", "/admin/orders"))

    def trace(self, correlation_id: str | None = None) -> list[dict[str, Any]]:
        params = {"correlation_id": correlation_id} if correlation_id else None
        return list(self._admin_call("GET", "/admin/trace", params=params))
