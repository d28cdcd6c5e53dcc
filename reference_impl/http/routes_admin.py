"""Harness administration, guarded by ``X-Admin-Token``: set up, inspect, reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from reference_impl.domain.order_status import OrderStatus
from reference_impl.http import auth
from reference_impl.http.deps import RuntimeDep, admin
from reference_impl.http.problems import responses
from reference_impl.http.schemas import (
    AccountsIn,
    CatalogIn,
    MoneyBody,
    Ok,
    OrderLineOut,
    OrderSummary,
    OutboxOut,
    StockIn,
    StockOut,
    TokenIn,
    TokenOut,
    TraceOut,
    iso,
)
from reference_impl.service import admin as admin_service

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(admin)],
                   responses=responses(401, 422))


@router.put("/catalog", response_model=Ok)
def load_catalog(runtime: RuntimeDep, body: CatalogIn) -> Ok:
    admin_service.load_catalog(
        runtime.uow_factory(),
        products=[p.to_domain() for p in body.products],
        locations=[loc.to_domain() for loc in body.locations],
    )
    return Ok()


@router.put("/accounts", response_model=Ok)
def load_accounts(runtime: RuntimeDep, body: AccountsIn) -> Ok:
    admin_service.load_accounts(runtime.uow_factory(), [a.to_domain() for a in body.accounts])
    return Ok()


@router.post("/stock", response_model=list[StockOut], responses=responses(404, 409))
def receive_stock(runtime: RuntimeDep, body: StockIn) -> list[StockOut]:
    """Goods in: adds each quantity to on hand (and to received, for I1)."""
    admin_service.receive_stock(
        runtime.uow_factory(), [(e.variant_id, e.location_id, e.quantity) for e in body.entries]
    )
    return read_stock(runtime)


@router.get("/stock", response_model=list[StockOut])
def read_stock(runtime: RuntimeDep, variant_id: str | None = None) -> list[StockOut]:
    uow = runtime.reader()
    with uow:
        levels = uow.stock.list(variant_id)
    return [
        StockOut(variant_id=s.variant_id, location_id=s.location_id, on_hand=s.on_hand,
                 reserved=s.reserved, sold=s.sold, received=s.received)
        for s in levels
    ]


@router.get("/orders", response_model=list[OrderSummary])
def list_orders(runtime: RuntimeDep, status: OrderStatus | None = None) -> list[OrderSummary]:
    uow = runtime.reader()
    with uow:
        found = uow.orders.list(status)
    return [
        OrderSummary(
            order_id=o.order_id, owner_id=o.owner_id, cart_id=o.cart_id, status=o.status,
            history=[h.status for h in o.history], total=MoneyBody.of(o.total),
            lines=[
                OrderLineOut(variant_id=ln.variant_id, location_id=ln.location_id,
                             quantity=ln.quantity, unit_price=MoneyBody.of(ln.unit_price),
                             subtotal=MoneyBody.of(ln.subtotal))
                for ln in o.lines
            ],
            expires_at=o.expires_at,
        )
        for o in found
    ]


@router.get("/outbox", response_model=list[OutboxOut])
def read_outbox(runtime: RuntimeDep, order_id: str | None = None) -> list[OutboxOut]:
    uow = runtime.reader()
    with uow:
        messages = uow.outbox.list(order_id)
    return [
        OutboxOut(message_id=m.message_id, kind=m.kind, order_id=m.order_id, payload=m.payload,
                  created_at=iso(m.created_at), sent_at=iso(m.sent_at) if m.sent_at else None,
                  attempts=m.attempts)
        for m in messages
    ]


@router.get("/trace", response_model=list[TraceOut])
def read_trace(
    runtime: RuntimeDep,
    correlation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[TraceOut]:
    uow = runtime.reader()
    with uow:
        events = uow.traces.list(correlation_id)
    return [
        TraceOut(source=e.source, target=e.target, message=e.message,
                 correlation_id=e.correlation_id, at=e.at, kind=e.kind.value)
        for e in events
    ]


@router.post("/tokens", response_model=TokenOut)
def mint_token(runtime: RuntimeDep, body: TokenIn) -> TokenOut:
    """A buyer token signed with the shop's secret, for harnesses that have no login flow."""
    return TokenOut(token=auth.issue_token(runtime.settings.jwt_secret, body.user_id,
                                           ttl=body.ttl))


@router.post("/reset", response_model=Ok)
def reset(runtime: RuntimeDep) -> Ok:
    admin_service.reset(runtime.uow_factory())
    return Ok()
