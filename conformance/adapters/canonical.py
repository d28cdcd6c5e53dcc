"""The adapter for shops that speak the canonical contract (``conformance/openapi.json``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from conformance.adapters.base import AdapterError, HttpCall, ShopAdapter, Transport
from conformance.adapters.httpx_transport import HttpxTransport
from reference_impl.domain.catalog import Location, Product
from reference_impl.domain.money import Money
from scenarios.catalog_setup import ShopSetup

SHIPPING = {"name": "Harness Buyer", "address": "1 Loopback Road", "city": "Localhost",
            "postal_code": "12700", "country": "FR"}


class CanonicalAdapter(ShopAdapter):
    """Buyers get their JWTs from ``POST /admin/tokens``; admin calls carry the admin token.

    ``transport`` may be any ``Transport``: by default httpx over a real socket to
    ``base_url``; ``InProcessTransport(app)`` reaches an
    in-process app through the very same adapter.
    """

    canonical = True

    def __init__(self, base_url: str, *, admin_token: str,
                 transport: Transport | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport or HttpxTransport(self.base_url, timeout=timeout)
        self._admin = {"X-Admin-Token": admin_token}
        self._tokens: dict[str, str] = {}
        # What set_up loaded: a price change re-sends its product (PUT upserts whole products).
        self._products: dict[str, Product] = {}
        self._locations: tuple[Location, ...] = ()

    def _admin_call(self, method: str, path: str, json: Any = None,
                    params: dict[str, Any] | None = None) -> Any:
        return self.send_or_raise(
            HttpCall(f"admin {path}", method, path, json, dict(self._admin), params))

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
        self._tokens.clear()

    def _put_catalog(self, locations: tuple[Location, ...], products: list[Product]) -> None:
        self._admin_call("PUT", "/admin/catalog", {
            "locations": [{"location_id": loc.location_id, "name": loc.name}
                          for loc in locations],
            "products": [
                {"product_id": p.product_id, "name": p.name, "description": p.description,
                 "variants": [
                     {"variant_id": v.variant_id, "sku": v.sku, "name": v.name,
                      "price": v.price.to_json(), "deliverable": v.deliverable}
                     for v in p.variants]}
                for p in products],
        })

    def set_up(self, setup: ShopSetup) -> None:
        self._put_catalog(setup.locations, list(setup.products))
        self._locations = setup.locations
        self._products = {p.product_id: p for p in setup.products}
        if setup.accounts:
            self._admin_call("PUT", "/admin/accounts", {"accounts": [
                {"user_id": a.user_id, "email": a.email, "active": a.active}
                for a in setup.accounts]})
        if setup.stock:
            self._admin_call("POST", "/admin/stock", {"entries": [
                {"variant_id": v, "location_id": loc, "quantity": q}
                for v, loc, q in setup.stock]})

    def set_price(self, variant_id: str, price: Money) -> None:
        product = next((p for p in self._products.values()
                        if any(v.variant_id == variant_id for v in p.variants)), None)
        if product is None:
            raise AdapterError(f"variant {variant_id} was not set up by this adapter")
        changed = replace(product, variants=tuple(
            replace(v, price=price) if v.variant_id == variant_id else v
            for v in product.variants))
        self._put_catalog(self._locations, [changed])
        self._products[product.product_id] = changed

    def schema_headers(self, buyer: str) -> dict[str, str]:
        return {**self.auth(buyer), **self._admin}

    # -- the wire spelling of each operation ----------------------------------------------

    def list_products_call(self, buyer: str | None) -> HttpCall:
        return HttpCall("list_products", "GET", "/products", headers=self.auth(buyer),
                        params={"limit": 100})

    def view_product_call(self, buyer: str | None, product_id: str) -> HttpCall:
        return HttpCall("view_product", "GET", f"/products/{product_id}",
                        headers=self.auth(buyer))

    def create_cart_call(self, buyer: str | None) -> HttpCall:
        return HttpCall("create_cart", "POST", "/carts", headers=self.auth(buyer))

    def read_cart_call(self, buyer: str | None, cart_id: str) -> HttpCall:
        return HttpCall("view_cart", "GET", f"/carts/{cart_id}", headers=self.auth(buyer))

    def set_line_call(self, buyer: str | None, cart_id: str, variant_id: str,
                      location_id: str, quantity: int) -> HttpCall:
        return HttpCall("add_to_cart", "PUT", f"/carts/{cart_id}/items/{variant_id}",
                        {"quantity": quantity, "location_id": location_id}, self.auth(buyer))

    def remove_line_call(self, buyer: str | None, cart_id: str, variant_id: str) -> HttpCall:
        return HttpCall("remove_from_cart", "DELETE", f"/carts/{cart_id}/items/{variant_id}",
                        headers=self.auth(buyer))

    def place_order_call(self, buyer: str, cart_id: str, *, idempotency_key: str | None = None,
                         expected_total: dict[str, Any] | None = None,
                         payment_method: str | None = None) -> HttpCall:
        body: dict[str, Any] = {"cart_id": cart_id, "shipping": SHIPPING}
        if expected_total is not None:
            body["expected_total"] = expected_total
        if payment_method is not None:
            body["payment_method"] = payment_method
        headers = self.auth(buyer)
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return HttpCall("create_order", "POST", "/orders", body, headers)

    def read_order_call(self, buyer: str, order_id: str) -> HttpCall:
        return HttpCall("view_order", "GET", f"/orders/{order_id}", headers=self.auth(buyer))

    def payment_link_call(self, buyer: str, order_id: str) -> HttpCall:
        return HttpCall("get_payment_link", "GET", f"/orders/{order_id}/payment",
                        headers=self.auth(buyer))

    def cancel_order_call(self, buyer: str, order_id: str) -> HttpCall:
        return HttpCall("cancel_order", "POST", f"/orders/{order_id}/cancel",
                        headers=self.auth(buyer))

    # -- inspection -----------------------------------------------------------------------

    def stock(self) -> list[dict[str, Any]]:
        return list(self._admin_call("GET", "/admin/stock"))

    def orders(self) -> list[dict[str, Any]]:
        return list(self._admin_call("GET", "/admin/orders"))

    def trace(self, correlation_id: str | None = None) -> list[dict[str, Any]]:
        params = {"correlation_id": correlation_id} if correlation_id else None
        return list(self._admin_call("GET", "/admin/trace", params=params))
