"""Deliberately broken shops: the reference implementation with one bug each.

Each builder takes the reference app's ``Settings`` and returns the FastAPI app with one
handler swapped, one middleware added, one repository wrapped or one setting misapplied,
never a copy of the app. ``BROKEN_SHOPS`` says which seed profile each runs in and which
invariant the suite must name when it catches it (tests/conformance/test_proof_of_power.py).

The model the suite compares with is the reference's own service layer: every bug here is
scoped to one app instance (its routes, its runtime, its storage), never patched into a
module the model also uses.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_impl.config import Settings
from reference_impl.domain import signatures
from reference_impl.domain.cart import Cart
from reference_impl.domain.effects import SendConfirmation
from reference_impl.domain.errors import NotFound
from reference_impl.domain.inventory import MoveKind, StockMove
from reference_impl.domain.order import StatusChange
from reference_impl.domain.order_status import OrderStatus
from reference_impl.domain.payment import PaymentOutcome, decode_event
from reference_impl.domain.settlement import Branch, Settlement
from reference_impl.http import routes_orders, routes_payments
from reference_impl.http.app import create_app
from reference_impl.http.deps import Buyer, RuntimeDep
from reference_impl.http.runtime import Runtime
from reference_impl.http.schemas import Id, OrderOut, WebhookAck, order_out
from reference_impl.service.memory import InMemoryUnitOfWork, MemoryStore
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.settle import apply_settlement
from reference_impl.service.tracing import Trace, no_trace
from reference_impl.service.units import run_unit

Builder = Callable[[Settings], FastAPI]


def _routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.120)
            found += _routes(route.original_router.routes)
    return found


def replace_endpoint(app: FastAPI, method: str, path: str, endpoint: Callable[..., Any]) -> None:
    """Put another handler in front of one route of this app only.

    The routers are module-level objects every app shares, so the original route stays
    where it is; the new one goes first and wins the match. ``endpoint`` is declared with
    ``functools.wraps(original)``: FastAPI reads the original's parameters, and the served
    document (built from the original, listed later) does not change.
    """
    route = next((r for r in _routes(app.router.routes)
                  if r.path == path and method in r.methods), None)
    if route is None:
        raise LookupError(f"no route {method} {path}")
    app.router.routes.insert(0, APIRoute(
        path, endpoint, methods=[method], response_model=route.response_model,
        status_code=route.status_code, responses=route.responses, tags=route.tags,
        openapi_extra=route.openapi_extra, name=f"{route.name}_broken",
        dependencies=route.dependencies))
    app.router._mark_routes_changed()


def _runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


# -- I1: an oversell race ------------------------------------------------------------------------


class _RacyStock:
    """Checks availability, then takes the stock by reading the level, letting other requests
    run, and writing back what it read minus the order: a lost update, and no guard."""

    def __init__(self, inner: Any, store: MemoryStore) -> None:
        self._inner, self._store = inner, store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def apply(self, moves: list[StockMove]) -> None:
        if any(m.kind not in (MoveKind.RESERVE, MoveKind.SELL) for m in moves):
            self._inner.apply(moves)
            return
        for move in moves:
            level = self._store.stock[(move.variant_id, move.location_id)]
            assert move.source is not None
            source, target = level.holds(move.source), level.holds(move.target)
            time.sleep(0.03)  # the window a read-then-write leaves open
            setattr(level, move.source.value, source - move.quantity)
            setattr(level, move.target.value, target + move.quantity)


def oversell_race(settings: Settings) -> FastAPI:
    store = MemoryStore(tracing=False)

    def unit_of_work() -> UnitOfWork:
        uow = InMemoryUnitOfWork(store)
        uow.stock = _RacyStock(uow.stock, store)  # type: ignore[assignment]
        return uow

    return create_app(settings, uow_factory=unit_of_work)


# -- I3: a duplicate webhook applied twice -----------------------------------------------------


def duplicate_webhook_applied(settings: Settings) -> FastAPI:
    """Keeps no record of the events it applied: every "Success" for a paid order decrements
    the stock and sends the confirmation once more (seed 001's success branch, again)."""
    app = create_app(settings)
    runtime = _runtime(app)

    def apply_again(body: bytes) -> str | None:
        event = decode_event(runtime.policies.webhook_dialect, body)
        if event is None or event.outcome is not PaymentOutcome.SUCCEEDED:
            return None
        uow = runtime.uow_factory()
        with uow:
            order = uow.orders.get(event.order_id)
            if order is None or order.status is not OrderStatus.PAID:
                return None
            settlement = Settlement("paid", moves=tuple(
                StockMove(MoveKind.SELL, ln.variant_id, ln.location_id, ln.quantity)
                for ln in order.lines), on_success=Branch(
                effects=(SendConfirmation(order.order_id, order.owner_id),)))
            apply_settlement(uow, order, settlement, runtime.clock(), no_trace(), "again")
            uow.commit()
        return "paid"

    original = routes_payments.payment_webhook

    @functools.wraps(original)
    async def endpoint(request: Request, runtime: RuntimeDep) -> WebhookAck:
        body = await request.body()
        signatures.verify(runtime.settings.webhook_secret,
                          request.headers.get(signatures.SIGNATURE_HEADERS[
                              runtime.policies.webhook_dialect]), body, runtime.clock(),
                          runtime.policies.webhook_tolerance)
        again = await run_in_threadpool(apply_again, body)
        runtime.wake_worker()
        if again:
            return WebhookAck(verdict=again)
        return await original(request, runtime)

    replace_endpoint(app, "POST", "/payments/webhook", endpoint)
    return app


# -- I5: an unsigned webhook accepted ------------------------------------------------------------


def unsigned_webhook_accepted(settings: Settings) -> FastAPI:
    """Verifies a signature when there is one; without the header, it trusts the body."""
    app = create_app(settings)
    original = routes_payments.payment_webhook

    @functools.wraps(original)
    async def endpoint(request: Request, runtime: RuntimeDep) -> WebhookAck:
        name = signatures.SIGNATURE_HEADERS[runtime.policies.webhook_dialect]
        if name not in request.headers:
            body = await request.body()
            signed = signatures.sign(runtime.settings.webhook_secret, int(runtime.clock()), body)
            scope = {**request.scope,
                     "headers": [*request.scope["headers"], (name.lower().encode(),
                                                             signed.encode())]}

            async def receive() -> Message:
                return {"type": "http.request", "body": body, "more_body": False}

            request = Request(scope, receive)
        return await original(request, runtime)

    replace_endpoint(app, "POST", "/payments/webhook", endpoint)
    return app


# -- I4: a status regressed by a late failure ----------------------------------------------------


def late_failure_regresses(settings: Settings) -> FastAPI:
    """A failure event that arrives after the success marks the paid order failed."""
    app = create_app(settings)
    original = routes_payments.payment_webhook

    def regress(order_id: str, runtime: Runtime) -> None:
        uow = runtime.uow_factory()
        with uow:
            order = uow.orders.get(order_id)
            if order is not None and order.status is OrderStatus.PAID:
                order.status = OrderStatus.PAYMENT_FAILED
                order.history.append(StatusChange(OrderStatus.PAYMENT_FAILED, runtime.clock(),
                                                  "payment failed"))
                uow.orders.save(order)
                uow.commit()

    @functools.wraps(original)
    async def endpoint(request: Request, runtime: RuntimeDep) -> WebhookAck:
        answer = await original(request, runtime)
        event = decode_event(runtime.policies.webhook_dialect, await request.body())
        if answer.verdict == "stale" and event and event.outcome is PaymentOutcome.FAILED:
            await run_in_threadpool(regress, event.order_id, runtime)
        return answer

    replace_endpoint(app, "POST", "/payments/webhook", endpoint)
    return app


# -- I7: the cart not cleared; a missing email; a duplicate email ----------------------------------


def cart_not_cleared(settings: Settings) -> FastAPI:
    """Seed 001 says "Clear user's cart" after a successful payment; this shop forgets."""
    return create_app(settings.model_copy(update={"clear_cart_on_payment": False}))


def missing_email(settings: Settings) -> FastAPI:
    """Seed 001's EmailService is never asked."""
    return create_app(settings.model_copy(update={"send_confirmation_email": False}))


class _TwiceMailer:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def send_confirmation(self, **message: Any) -> None:
        self._inner.send_confirmation(**message)
        self._inner.send_confirmation(**message)  # a retry that did not know the first worked


def duplicate_email(settings: Settings) -> FastAPI:
    app = create_app(settings)
    runtime = _runtime(app)
    runtime.mailer = _TwiceMailer(runtime.mailer)  # type: ignore[assignment]
    return app


# -- I8: another buyer's order readable ----------------------------------------------------------


def other_buyers_order_readable(settings: Settings) -> FastAPI:
    """Reads the order by id and forgets to check whose it is."""
    app = create_app(settings)

    @functools.wraps(routes_orders.read_order)
    def endpoint(runtime: RuntimeDep, order_id: Id, user: Buyer) -> OrderOut:
        uow = runtime.uow_factory()
        with uow:
            order = uow.orders.get(order_id)
        if order is None:
            raise NotFound(f"order {order_id} not found")
        return order_out(order, runtime.settings.status_labels)

    replace_endpoint(app, "GET", "/orders/{order_id}", endpoint)
    return app


# -- I9: the idempotency key ignored -------------------------------------------------------------


class _DropIdempotencyKey:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/orders":
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"]
                                          if k.lower() != b"idempotency-key"]}
        await self.app(scope, receive, send)


def idempotency_key_ignored(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.add_middleware(_DropIdempotencyKey)
    return app


# -- C1: a 500 on malformed input ----------------------------------------------------------------


class _HandRolledCartParser:
    """Reads the cart line body itself before the framework does, trusting its shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT" or "/items/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        quantity = int(json.loads(body)["quantity"])  # KeyError, TypeError...: a 500
        if quantity > 999:
            raise OverflowError("quantity does not fit the column")

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def server_error_on_malformed_input(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.add_middleware(_HandRolledCartParser)
    return app


# -- I10: a changed price accepted ----------------------------------------------------------------


class _RepricedCarts:
    """Carts as read at checkout: every line at today's price (so it never "changed")."""

    def __init__(self, inner: Any, catalog: Any) -> None:
        self._inner, self._catalog = inner, catalog

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get(self, cart_id: str) -> Cart | None:
        cart = self._inner.get(cart_id)
        if cart is None:
            return None
        for variant_id, line in list(cart.lines.items()):
            variant = self._catalog.get_variant(variant_id)
            if variant is not None:
                cart.lines[variant_id] = replace(line, unit_price=variant.price)
        return cart


def changed_price_accepted(settings: Settings) -> FastAPI:
    app = create_app(settings)
    runtime = _runtime(app)
    plain = runtime.uow_factory

    def repricing() -> UnitOfWork:
        uow = plain()
        uow.carts = _RepricedCarts(uow.carts, uow.catalog)
        return uow

    original = routes_orders.create_order

    @functools.wraps(original)
    async def endpoint(**kwargs: Any) -> OrderOut:
        # Only checkout reads carts this way; the rest of the shop sees them as they are.
        checkout = _RuntimeView(kwargs["runtime"], repricing)
        return await original(**{**kwargs, "runtime": checkout})

    replace_endpoint(app, "POST", "/orders", endpoint)
    return app


class _RuntimeView:
    def __init__(self, runtime: Runtime, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._runtime, self.uow_factory = runtime, uow_factory

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    async def run_unit(self, unit: Callable[[UnitOfWork], Any], trace: Trace) -> Any:
        return await run_in_threadpool(run_unit, self.uow_factory, unit, trace)


# -- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenShop:
    name: str
    build: Builder
    seed: str  # the seed profile it runs in
    invariant: str  # what the suite must name
    settings: dict[str, Any] | None = None


BROKEN_SHOPS: tuple[BrokenShop, ...] = (
    BrokenShop("oversell race", oversell_race, "004", "I1"),
    BrokenShop("duplicate webhook applied twice", duplicate_webhook_applied, "001", "I3"),
    BrokenShop("unsigned webhook accepted", unsigned_webhook_accepted, "004", "I5"),
    BrokenShop("status regressed by a late failure", late_failure_regresses, "004", "I4"),
    BrokenShop("cart not cleared", cart_not_cleared, "001", "I7"),
    BrokenShop("missing email", missing_email, "001", "I7"),
    BrokenShop("duplicate email", duplicate_email, "001", "I7"),
    BrokenShop("another buyer's order readable", other_buyers_order_readable, "002", "I8"),
    BrokenShop("idempotency key ignored", idempotency_key_ignored, "003", "I9"),
    BrokenShop("500 on malformed input", server_error_on_malformed_input, "000", "C1"),
    BrokenShop("changed price accepted", changed_price_accepted, "000", "I10"),
)
