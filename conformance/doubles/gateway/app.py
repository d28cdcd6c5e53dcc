"""The gateway double's HTTP API (FastAPI). JSON everywhere except the buyer's pay page.

    POST /v1/checkout/sessions              create a hosted checkout session (Idempotency-Key)
    GET  /v1/checkout/sessions/{id}         read it
    POST /v1/checkout/sessions/{id}/complete  {"outcome": "succeeded"|"failed"|"expired"}
    POST /v1/charges                        synchronous charge (seeds 002, 003; Idempotency-Key)
    GET  /v1/events[?order_id=&kind=]       the event log
    GET  /pay/{id}, POST /pay/{id}          the buyer's page: two buttons, same as complete
    GET|PUT /_control/faults                the fault configuration (PUT replaces it; 422)
    GET|PUT /_control/webhook               the webhook target: url, secret, dialect (422)
    GET  /_control/status                   uptime and pending deliveries; "idle"
    POST /_control/reset                    forget everything, restart the outage clock
    GET  /healthz
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from conformance.doubles.gateway.config import WebhookTarget
from conformance.doubles.gateway.core import Gateway, GatewayError, parse_json_object
from conformance.doubles.gateway.faults import (
    FaultsError,
    describe_validation_error,
    parse_faults,
)


def create_app(gateway: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(
        title="purchaseflow payment gateway double",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.post("/v1/checkout/sessions")
    async def create_session(request: Request) -> dict[str, Any]:
        return await gateway.create_session(
            await request.body(),
            request.headers.get("Idempotency-Key"),
            str(request.base_url),
        )

    @app.get("/v1/checkout/sessions/{session_id}")
    async def get_session(session_id: str) -> dict[str, Any]:
        return await gateway.get_session(session_id)

    @app.post("/v1/checkout/sessions/{session_id}/complete")
    async def complete_session(session_id: str, request: Request) -> dict[str, Any]:
        data = parse_json_object(await request.body())
        if "outcome" not in data:
            raise GatewayError(400, "the body must give an outcome")
        return gateway.complete(session_id, data["outcome"])

    @app.post("/v1/charges")
    async def create_charge(request: Request) -> dict[str, Any]:
        return await gateway.create_charge(
            await request.body(), request.headers.get("Idempotency-Key")
        )

    @app.get("/v1/events")
    async def events(order_id: str | None = None, kind: str | None = None) -> dict[str, Any]:
        data = gateway.events(order_id=order_id, kind=kind)
        return {"object": "list", "data": data}

    @app.get("/pay/{session_id}", response_class=HTMLResponse)
    async def pay_page(session_id: str) -> HTMLResponse:
        session = gateway.ledger.sessions.get(session_id)
        return HTMLResponse(_pay_page(session, session_id), 200 if session else 404)

    @app.post("/pay/{session_id}")
    async def pay(session_id: str, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        outcome = form.get("outcome", [""])[0]
        try:
            session = gateway.complete(session_id, outcome)
        except GatewayError as exc:
            return HTMLResponse(_page("Payment", html.escape(exc.message)), exc.status)
        # Like Stripe Checkout, send the buyer back to the shop when it said where.
        paid = session["outcome"] == "succeeded"
        back = session["success_url"] if paid else session["cancel_url"]
        if back:
            return RedirectResponse(back, status_code=303)
        return HTMLResponse(_page("Payment", f"Payment {html.escape(session['outcome'])}."))

    @app.get("/_control/faults")
    async def get_faults() -> dict[str, Any]:
        return gateway.faults.model_dump(mode="json")

    @app.put("/_control/faults")
    async def put_faults(request: Request) -> dict[str, Any]:
        data = _control_body(await request.body())
        try:
            faults = parse_faults(data)
        except FaultsError as exc:
            raise GatewayError(422, str(exc)) from None
        gateway.set_faults(faults)
        return faults.model_dump(mode="json")

    @app.get("/_control/webhook")
    async def get_webhook() -> dict[str, Any]:
        return gateway.target.model_dump(mode="json")

    @app.put("/_control/webhook")
    async def put_webhook(request: Request) -> dict[str, Any]:
        data = _control_body(await request.body())
        try:
            target = WebhookTarget.model_validate(data)
        except ValidationError as exc:
            raise GatewayError(422, describe_validation_error(exc)) from None
        gateway.set_target(target)
        return target.model_dump(mode="json")

    @app.get("/_control/status")
    async def status() -> dict[str, Any]:
        return gateway.status()

    @app.post("/_control/reset")
    async def reset() -> dict[str, Any]:
        gateway.reset()
        return gateway.status()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _control_body(raw: bytes) -> dict[str, Any]:
    try:
        return parse_json_object(raw)
    except GatewayError as exc:
        raise GatewayError(422, exc.message) from None


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><h1>{title}</h1>{body}</body></html>"
    )


def _pay_page(session: dict[str, Any] | None, session_id: str) -> str:
    if session is None:
        return _page("Payment", f"No such checkout session {html.escape(session_id)}.")
    amount = f"{session['amount_total']} {session['currency'].upper()} (minor units)"
    if session["status"] != "open":
        return _page("Payment", f"This checkout is {html.escape(session['status'])}.")
    order = html.escape(session["client_reference_id"])
    return _page(
        "Payment",
        f"<p>Order {order}: {html.escape(amount)}</p>"
        "<form method='post'>"
        "<button name='outcome' value='succeeded'>Pay</button> "
        "<button name='outcome' value='failed'>Decline</button>"
        "</form>",
    )
