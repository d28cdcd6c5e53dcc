"""``SessionShopAdapter``: the suite's operations, spelled for the session shop.

The worked example of docs/adapters.md. What differs from the canonical contract, and
where this adapter deals with it:

* no cart ids: ``create_cart`` starts a session; the cookie it sets *is* the cart handle
  (``cart_id``), sent back as ``Cookie: shop_session=...`` on every basket call;
* buyers authenticate with ``X-Customer-Token`` (minted by the harness back door);
* other paths and field names: ``count``/``store``, ``purchaseId``/``state``/``timeline``,
  ``sumCents``; ``order_of``, ``cart_of``, ``stock`` and ``orders`` turn them into the
  canonical shape the suite compares;
* refusals are ``{"error": {"kind": "OUT_OF_STOCK"}}``: ``read`` maps each kind back to the
  contract's code;
* the idempotency key travels as ``X-Request-Id``; the webhook lives at ``/hooks/payments``.
"""

from __future__ import annotations

from dataclasses import replace
from http.cookies import SimpleCookie
from typing import Any

from conformance.adapters import (
    AdapterError,
    HttpCall,
    HttpxTransport,
    Outcome,
    ShopAdapter,
    Transport,
)
from reference_impl.domain.catalog import Location, Product
from reference_impl.domain.money import Money
from scenarios.catalog_setup import ShopSetup
from tests.conformance.session_shop import COOKIE, KINDS, STATES

CODES = {kind: code for code, kind in KINDS.items()}
STATUSES = {state: status for status, state in STATES.items()}


class SessionShopAdapter(ShopAdapter):
    webhook_path = "/hooks/payments"

    def __init__(self, base_url: str, *, admin_token: str,
                 transport: Transport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.transport = transport or HttpxTransport(self.base_url)
        self._harness = {"X-Harness-Key": admin_token}
        self._tokens: dict[str, str] = {}
        self._products: dict[str, Product] = {}
        self._locations: tuple[Location, ...] = ()

    # -- the harness's back door ------------------------------------------------------------

    def _harness_call(self, method: str, path: str, json: Any = None) -> Any:
        return self.send_or_raise(
            HttpCall(f"harness {path}", method, path, json, dict(self._harness)))

    def auth(self, buyer: str | None) -> dict[str, str]:
        if buyer is None:
            return {}
        if buyer not in self._tokens:
            body = self._harness_call("POST", f"/_harness/customers/{buyer}/token")
            self._tokens[buyer] = str(body["token"])
        return {"X-Customer-Token": self._tokens[buyer]}

    def reset(self) -> None:
        self._harness_call("POST", "/_harness/reset")
        self._tokens.clear()

    def _put_catalog(self, products: list[Product]) -> None:
        self._harness_call("PUT", "/_harness/catalog", {
            "stores": [loc.location_id for loc in self._locations],
            "skus": [{"sku": v.variant_id, "product": p.product_id, "title": v.name,
                      "priceCents": v.price.amount, "currency": v.price.currency,
                      "ships": v.deliverable} for p in products for v in p.variants]})

    def set_up(self, setup: ShopSetup) -> None:
        self._locations = setup.locations
        self._products = {p.product_id: p for p in setup.products}
        self._put_catalog(list(setup.products))
        self._harness_call("PUT", "/_harness/customers", [
            {"id": a.user_id, "email": a.email, "active": a.active} for a in setup.accounts])
        self._harness_call("POST", "/_harness/deliveries", [
            {"sku": v, "store": loc, "units": q} for v, loc, q in setup.stock])

    def set_price(self, variant_id: str, price: Money) -> None:
        product = next(p for p in self._products.values()
                       if any(v.variant_id == variant_id for v in p.variants))
        changed = replace(product, variants=tuple(
            replace(v, price=price) if v.variant_id == variant_id else v
            for v in product.variants))
        self._products[product.product_id] = changed
        self._put_catalog([changed])

    def schema_headers(self, buyer: str) -> dict[str, str]:
        return {**self.auth(buyer), **self._harness}

    # -- the wire spelling of each operation ----------------------------------------------

    def _basket(self, buyer: str | None, cart_id: str) -> dict[str, str]:
        return {**self.auth(buyer), "Cookie": f"{COOKIE}={cart_id}"}

    def list_products_call(self, buyer: str | None) -> HttpCall:
        raise NotImplementedError("the session shop has no catalog listing")

    def view_product_call(self, buyer: str | None, product_id: str) -> HttpCall:
        raise NotImplementedError("the session shop has no product page")

    def create_cart_call(self, buyer: str | None) -> HttpCall:
        return HttpCall("create_cart", "POST", "/shop/sessions", {"guest": buyer is None},
                        self.auth(buyer))

    def read_cart_call(self, buyer: str | None, cart_id: str) -> HttpCall:
        return HttpCall("view_cart", "GET", "/shop/basket", headers=self._basket(buyer, cart_id))

    def set_line_call(self, buyer: str | None, cart_id: str, variant_id: str,
                      location_id: str, quantity: int) -> HttpCall:
        return HttpCall("add_to_cart", "PUT", f"/shop/basket/items/{variant_id}",
                        {"count": quantity, "store": location_id},
                        self._basket(buyer, cart_id))

    def remove_line_call(self, buyer: str | None, cart_id: str, variant_id: str) -> HttpCall:
        return HttpCall("remove_from_cart", "DELETE", f"/shop/basket/items/{variant_id}",
                        headers=self._basket(buyer, cart_id))

    def place_order_call(self, buyer: str, cart_id: str, *, idempotency_key: str | None = None,
                         expected_total: dict[str, Any] | None = None,
                         payment_method: str | None = None) -> HttpCall:
        body: dict[str, Any] = {"deliverTo": "1 Loopback Road, Localhost"}
        if expected_total is not None:
            body["expectedCents"] = expected_total["amount"]
        if payment_method is not None:
            body["card"] = payment_method
        headers = self._basket(buyer, cart_id)
        if idempotency_key:
            headers["X-Request-Id"] = idempotency_key
        return HttpCall("create_order", "POST", "/shop/checkout", body, headers)

    def read_order_call(self, buyer: str, order_id: str) -> HttpCall:
        return HttpCall("view_order", "GET", f"/shop/purchases/{order_id}",
                        headers=self.auth(buyer))

    def payment_link_call(self, buyer: str, order_id: str) -> HttpCall:
        return self.read_order_call(buyer, order_id)

    # -- reading answers -----------------------------------------------------------------------

    def read(self, outcome: Outcome) -> Outcome:
        if outcome.ok or not isinstance(outcome.body, dict):
            return outcome
        error = outcome.body.get("error")
        kind = error.get("kind") if isinstance(error, dict) else None
        return replace(outcome, code=CODES.get(str(kind), str(kind)) if kind else outcome.code)

    def cart_id(self, outcome: Outcome) -> str:
        cookie = SimpleCookie(outcome.headers.get("set-cookie", ""))
        if COOKIE not in cookie:
            raise AdapterError("the session shop set no session cookie")
        return cookie[COOKIE].value

    def cart_of(self, outcome: Outcome) -> dict[str, Any]:
        return {"owner_id": outcome.body.get("customer"), "lines": [
            {"variant_id": i["sku"], "location_id": i["store"], "quantity": i["count"],
             "unit_price": {"amount": i["pricePerUnit"]["cents"],
                            "currency": i["pricePerUnit"]["curr"]}}
            for i in outcome.body["basketItems"]]}

    @staticmethod
    def _canonical_order(p: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": p["purchaseId"], "owner_id": p["customer"],
            "status": STATUSES[p["state"]],
            "history": [{"status": STATUSES[t["state"]], "at": t["at"]} for t in p["timeline"]],
            "lines": [{"variant_id": i["sku"], "location_id": i["store"], "quantity": i["count"],
                       "unit_price": {"amount": i["pricePerUnit"]["cents"],
                                      "currency": i["pricePerUnit"]["curr"]}}
                      for i in p["items"]],
            "total": {"amount": p["sumCents"], "currency": p["currency"]},
            "payment": {"session_id": p["paymentRef"]}, "expires_at": p["payBy"]}

    def order_of(self, outcome: Outcome) -> dict[str, Any]:
        return self._canonical_order(outcome.body)

    def stock(self) -> list[dict[str, Any]]:
        return [{"variant_id": s["sku"], "location_id": s["store"], "on_hand": s["free"],
                 "reserved": s["held"], "sold": s["shipped"], "received": s["delivered"]}
                for s in self._harness_call("GET", "/_harness/shelves")]

    def orders(self) -> list[dict[str, Any]]:
        # The audit's shape (ShopAdapter.orders): the history as statuses, without times.
        return [{**order, "history": [change["status"] for change in order["history"]]}
                for order in map(self._canonical_order,
                                 self._harness_call("GET", "/_harness/purchases"))]
