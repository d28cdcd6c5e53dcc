"""A shop shaped differently from the canonical contract, to prove the adapter interface.

A thin FastAPI facade in front of the reference implementation's service layer: the same
rules, another API. The basket lives in a session cookie (no cart id in any URL), buyers
authenticate with an ``X-Customer-Token`` header, the paths and field names are its own
(``/shop/basket/items/{sku}`` with ``count`` and ``store``, ``/shop/checkout``, purchases
with a ``state`` and a ``timeline``), its refusals are ``{"error": {"kind": "OUT_OF_STOCK"}}``,
and the harness administers it under ``/_harness`` with ``X-Harness-Key``.
``SessionShopAdapter`` (session_adapter.py) maps the suite's operations onto it.
"""

from __future__ import annotations

import hmac
import uuid
from typing import Annotated, Any

from anyio import from_thread
from fastapi import Cookie, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from reference_impl.config import Settings
from reference_impl.domain import signatures
from reference_impl.domain.catalog import Account, Location, Product, Variant
from reference_impl.domain.checkout import request_fingerprint
from reference_impl.domain.errors import DomainError, NotFound, Unauthorized
from reference_impl.domain.money import Money
from reference_impl.domain.order import Order
from reference_impl.domain.payment import decode_event
from reference_impl.domain.policies import PaymentMode
from reference_impl.http.app import sql_storage
from reference_impl.http.auth import issue_token, user_from_header
from reference_impl.http.problems import _allowed_methods
from reference_impl.http.runtime import Runtime
from reference_impl.outbound.gateway_client import GatewayClient, GatewayUnavailable
from reference_impl.outbound.mailer import SmtpMailer
from reference_impl.service import admin, carts, orders, payments
from reference_impl.service.tracing import no_trace

COOKIE = "shop_session"
#: This shop's words for the contract's refusal codes.
KINDS = {
    "insufficient_inventory": "OUT_OF_STOCK", "items_unavailable": "UNAVAILABLE",
    "price_changed": "PRICE_MOVED", "cart_empty": "EMPTY_BASKET",
    "unknown_variant": "NO_SUCH_SKU", "invalid_quantity": "BAD_COUNT",
    "account_inactive": "CUSTOMER_BLOCKED", "unauthorized": "WHO_ARE_YOU",
    "not_found": "NOWHERE", "invalid_signature": "BAD_SIGNATURE",
    "idempotency_key_reused": "REQUEST_ID_REUSED", "validation_error": "MALFORMED",
    "illegal_transition": "TOO_LATE", "gateway_unavailable": "PAYMENTS_DOWN",
}
#: This shop's words for the order statuses.
STATES = {"pending_payment": "AWAITING_PAYMENT", "paid": "PAID", "payment_failed": "DECLINED",
          "cancelled": "CANCELLED", "refunded": "REFUNDED"}


class ShopError(BaseModel):
    kind: str
    message: str = ""


class ErrorBody(BaseModel):
    error: ShopError


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": "refused"}
    for status in (400, 401, 403, 404, 409, 422, 503)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
#: JSON booleans only: 0 and "no" are not (the suite's C3 catches a shop taking them).
Flag = Annotated[bool, Field(strict=True)]


class Price(BaseModel):
    cents: int
    curr: str


class BasketItemIn(Strict):
    count: Annotated[int, Field(ge=1, le=999, strict=True)]
    store: Sku


class BasketItem(BaseModel):
    sku: str
    store: str
    count: int
    pricePerUnit: Price  # this shop's own JSON field names


class Basket(BaseModel):
    customer: str | None
    basketItems: list[BasketItem]


class SessionIn(Strict):
    guest: Flag = False


class Started(BaseModel):
    customer: str | None


class CheckoutIn(Strict):
    deliverTo: Annotated[str, Field(min_length=1, max_length=200)]
    expectedCents: Annotated[int, Field(ge=0, le=10**12, strict=True)] | None = None
    card: Annotated[str, Field(max_length=64)] | None = None


class TimelineEntry(BaseModel):
    state: str
    at: float


class PurchaseItem(BaseModel):
    sku: str
    store: str
    count: int
    pricePerUnit: Price  # this shop's own JSON field names


class Purchase(BaseModel):
    purchaseId: str
    customer: str
    state: str
    timeline: list[TimelineEntry]
    items: list[PurchaseItem]
    sumCents: int
    currency: str
    paymentRef: str | None
    payBy: float | None


class HarnessSku(Strict):
    sku: Sku
    product: Sku
    title: Annotated[str, Field(min_length=1, max_length=200)]
    priceCents: Annotated[int, Field(ge=0, le=10**12, strict=True)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    ships: Flag = True


class HarnessCatalog(Strict):
    stores: list[Sku]
    skus: list[HarnessSku]


class HarnessCustomer(Strict):
    id: Sku
    email: Annotated[str, Field(max_length=200)]
    active: Flag = True


class HarnessDelivery(Strict):
    sku: Sku
    store: Sku
    units: Annotated[int, Field(ge=0, le=10**9, strict=True)]


class Shelf(BaseModel):
    sku: str
    store: str
    free: int
    held: int
    shipped: int
    delivered: int


class Token(BaseModel):
    token: str


class Done(BaseModel):
    done: bool = True


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"kind": KINDS.get(code, code.upper()), "message": message}},
                        status_code=status)


def _purchase(order: Order) -> Purchase:
    return Purchase(
        purchaseId=order.order_id, customer=order.owner_id, state=STATES[order.status.value],
        timeline=[TimelineEntry(state=STATES[h.status.value], at=h.at) for h in order.history],
        items=[PurchaseItem(sku=ln.variant_id, store=ln.location_id, count=ln.quantity,
                            pricePerUnit=Price(cents=ln.unit_price.amount,
                                               curr=ln.unit_price.currency))
               for ln in order.lines],
        sumCents=order.total.amount, currency=order.total.currency,
        paymentRef=order.payment_session_id, payBy=order.expires_at)


# FastAPI reads these annotations by name, so they live at module level.


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.runtime.settings
    return settings


def customer(request: Request, x_customer_token: Annotated[str | None, Header()] = None) -> str:
    return user_from_header(_settings(request).jwt_secret,
                            f"Bearer {x_customer_token}" if x_customer_token else None)


def maybe_customer(request: Request,
                   x_customer_token: Annotated[str | None, Header()] = None) -> str | None:
    return customer(request, x_customer_token) if x_customer_token else None


def harness(request: Request, x_harness_key: Annotated[str | None, Header()] = None) -> None:
    expected = _settings(request).admin_token
    if not x_harness_key or not hmac.compare_digest(x_harness_key, expected):
        raise Unauthorized("harness endpoints need X-Harness-Key")


Customer = Annotated[str, Depends(customer)]
MaybeCustomer = Annotated[str | None, Depends(maybe_customer)]
Session = Annotated[str | None, Cookie(alias=COOKIE)]


def create_session_shop(settings: Settings) -> FastAPI:
    storage = sql_storage(settings)
    runtime = Runtime(
        settings=settings, uow_factory=storage.uow_factory, units=storage.units,
        gateway=GatewayClient(settings.gateway_url, timeout=settings.gateway_timeout,
                              retries=settings.gateway_retries, public_url=settings.public_url),
        mailer=SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from))
    policies = runtime.policies

    app = FastAPI(title="session shop (a differently shaped SUT)", lifespan=runtime.lifespan)
    app.state.runtime = runtime

    @app.exception_handler(DomainError)
    async def on_domain(request: Request, exc: DomainError) -> JSONResponse:
        return _error(exc.http_status, exc.code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "validation_error", str(exc.errors())[:300])

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        status = 422 if exc.status_code == 400 else exc.status_code
        response = _error(status, {404: "not_found", 405: "method_not_allowed"}.get(
            status, "validation_error"), str(exc.detail))
        if status == 405:
            # RFC 9110 (the suite's C3 found this shop forgetting it): every method.
            response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return response

    def session_cart(session: str | None) -> str:
        if not session:
            raise NotFound("no basket: start a session first")
        return session

    def basket_of(cart_id: str, user: str | None) -> Basket:
        cart = carts.get_cart(runtime.uow_factory(), cart_id=cart_id, user_id=user)
        return Basket(customer=cart.owner_id, basketItems=[
            BasketItem(sku=ln.variant_id, store=ln.location_id, count=ln.quantity,
                       pricePerUnit=Price(cents=ln.unit_price.amount, curr=ln.unit_price.currency))
            for ln in cart.lines.values()])

    # -- the shop -----------------------------------------------------------------------------

    @app.post("/shop/sessions", status_code=201, response_model=Started, responses=ERRORS)
    def start_session(response: Response, user: MaybeCustomer, body: SessionIn) -> Started:
        """A new basket, kept in the session cookie; a guest's has no owner (seed 003)."""
        owner = None if body.guest else user
        cart_id = f"sess_{uuid.uuid4().hex}"
        carts.create_cart(runtime.uow_factory(), cart_id=cart_id, owner_id=owner,
                          now=runtime.clock(), trace=no_trace())
        response.set_cookie(COOKIE, cart_id, httponly=True, samesite="lax")
        return Started(customer=owner)

    @app.get("/shop/basket", response_model=Basket, responses=ERRORS)
    def read_basket(user: MaybeCustomer, session: Session = None) -> Basket:
        return basket_of(session_cart(session), user)

    @app.put("/shop/basket/items/{sku}", response_model=Basket, responses=ERRORS)
    def put_item(sku: Sku, body: BasketItemIn, user: MaybeCustomer,
                 session: Session = None) -> Basket:
        cart_id = session_cart(session)
        carts.set_cart_line(runtime.uow_factory(), cart_id=cart_id, user_id=user,
                            variant_id=sku, location_id=body.store, quantity=body.count,
                            now=runtime.clock(), trace=no_trace())
        return basket_of(cart_id, user)

    @app.delete("/shop/basket/items/{sku}", response_model=Basket, responses=ERRORS)
    def drop_item(sku: Sku, user: MaybeCustomer, session: Session = None) -> Basket:
        cart_id = session_cart(session)
        carts.remove_cart_line(runtime.uow_factory(), cart_id=cart_id, user_id=user,
                               variant_id=sku, now=runtime.clock(), trace=no_trace())
        return basket_of(cart_id, user)

    @app.post("/shop/checkout", status_code=201, response_model=Purchase, responses=ERRORS)
    def checkout(body: CheckoutIn, user: Customer, response: Response,
                 session: Session = None,
                 x_request_id: Annotated[str | None, Header(max_length=255)] = None,
                 ) -> Purchase:
        """Seed 001's checkout, with this shop's idempotency header (X-Request-Id)."""
        cart_id = session_cart(session)
        expected = (Money(body.expectedCents, policies.currency)
                    if body.expectedCents is not None else None)
        placed = orders.place_order(
            runtime.uow_factory(),
            orders.PlaceOrder(cart_id=cart_id, buyer_id=user, expected_total=expected,
                              idempotency_key=x_request_id or None,
                              fingerprint=request_fingerprint(user, {
                                  "cart": cart_id, **body.model_dump()})),
            policies=policies, now=runtime.clock(), new_order_id=lambda: f"p_{uuid.uuid4().hex}",
            trace=no_trace())
        order = placed.order
        if not placed.created:
            response.status_code = 200
        elif policies.payment_mode is PaymentMode.HOSTED_CHECKOUT:
            try:
                created = from_thread.run(runtime.gateway.create_checkout_session, order)
                order = orders.attach_payment_session(
                    runtime.uow_factory(), order_id=order.order_id,
                    session_id=created.session_id, url=created.url, trace=no_trace())
            except GatewayUnavailable:
                pass
        else:
            try:
                charged = from_thread.run(runtime.gateway.charge, order, body.card)
            except GatewayUnavailable as exc:
                raise DomainError(str(exc)) from None
            order, _ = orders.record_charge(
                runtime.uow_factory(), order_id=order.order_id, outcome=charged.outcome,
                amount=order.total, policies=policies, now=runtime.clock(), trace=no_trace())
            runtime.wake_worker()
        return _purchase(order)

    @app.get("/shop/purchases/{purchase_id}", response_model=Purchase, responses=ERRORS)
    def read_purchase(purchase_id: Sku, user: Customer) -> Purchase:
        return _purchase(orders.get_order(runtime.uow_factory(), order_id=purchase_id,
                                          user_id=user))

    @app.post("/hooks/payments", response_model=Done, responses=ERRORS)
    async def payment_hook(request: Request) -> Done:
        raw = await request.body()
        header = request.headers.get(signatures.SIGNATURE_HEADERS[policies.webhook_dialect])
        signatures.verify(settings.webhook_secret, header, raw, runtime.clock(),
                          policies.webhook_tolerance)
        event = decode_event(policies.webhook_dialect, raw)
        if event is not None:
            await run_in_threadpool(payments.handle_payment_event, runtime.uow_factory(), event,
                                    policies=policies, now=runtime.clock(), trace=no_trace())
            runtime.wake_worker()
        return Done()

    # -- the harness's back door -----------------------------------------------------------------

    back = [Depends(harness)]

    @app.post("/_harness/reset", response_model=Done, dependencies=back, responses=ERRORS)
    def reset() -> Done:
        admin.reset(runtime.uow_factory())
        return Done()

    @app.put("/_harness/catalog", response_model=Done, dependencies=back, responses=ERRORS)
    def put_catalog(body: HarnessCatalog) -> Done:
        products: dict[str, list[Variant]] = {}
        for item in body.skus:
            products.setdefault(item.product, []).append(Variant(
                item.sku, item.product, item.sku, item.title,
                Money(item.priceCents, item.currency), item.ships))
        admin.load_catalog(runtime.uow_factory(),
                           products=[Product(p, p, "", tuple(v)) for p, v in products.items()],
                           locations=[Location(s, s) for s in body.stores])
        return Done()

    @app.put("/_harness/customers", response_model=Done, dependencies=back, responses=ERRORS)
    def put_customers(body: list[HarnessCustomer]) -> Done:
        admin.load_accounts(runtime.uow_factory(),
                            [Account(c.id, c.email, c.active) for c in body])
        return Done()

    @app.post("/_harness/customers/{customer_id}/token", response_model=Token,
              dependencies=back, responses=ERRORS)
    def token(customer_id: Sku) -> Token:
        return Token(token=issue_token(settings.jwt_secret, customer_id))

    @app.post("/_harness/deliveries", response_model=Done, dependencies=back, responses=ERRORS)
    def deliveries(body: list[HarnessDelivery]) -> Done:
        admin.receive_stock(runtime.uow_factory(), [(d.sku, d.store, d.units) for d in body])
        return Done()

    @app.get("/_harness/shelves", response_model=list[Shelf], dependencies=back,
             responses=ERRORS)
    def shelves() -> list[Shelf]:
        uow = runtime.uow_factory()
        with uow:
            levels = uow.stock.list()
        return [Shelf(sku=s.variant_id, store=s.location_id, free=s.on_hand, held=s.reserved,
                      shipped=s.sold, delivered=s.received) for s in levels]

    @app.get("/_harness/purchases", response_model=list[Purchase], dependencies=back,
             responses=ERRORS)
    def purchases() -> list[Purchase]:
        uow = runtime.uow_factory()
        with uow:
            found = uow.orders.list()
        return [_purchase(o) for o in found]

    return app
