"""Carts (seed 003: cart kept in the session; seeds 000 and 002: add to cart)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from reference_impl.http.deps import MaybeBuyer, RuntimeDep
from reference_impl.http.problems import responses
from reference_impl.http.runtime import new_id
from reference_impl.http.schemas import CartLineIn, CartOut, Id, cart_out
from reference_impl.service import carts

router = APIRouter(tags=["carts"])

#: Seed 003 keeps an anonymous cart in the session, so the bearer token is optional here.
#: ``{}`` is OpenAPI's "no credentials" alternative; FastAPI appends it to the declared
#: bearer requirement, so schema-driven tools do not expect a 401 without a token.
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}


@router.post(
    "/carts", response_model=CartOut, status_code=status.HTTP_201_CREATED,
    responses=responses(401), openapi_extra=OPTIONAL_AUTH,
)
def create_cart(runtime: RuntimeDep, user: MaybeBuyer) -> CartOut:
    """Anonymous without a token (the id is the key); owned by the buyer with one."""
    trace = runtime.trace(runtime.clock())
    cart = runtime.run_unit_here(
        lambda uow: carts.create_cart(
            uow, cart_id=new_id("cart"), owner_id=user, now=trace.now, trace=trace
        ),
        trace,
    )
    return cart_out(cart)


@router.get("/carts/{cart_id}", response_model=CartOut, responses=responses(401, 404, 422),
            openapi_extra=OPTIONAL_AUTH)
def read_cart(runtime: RuntimeDep, cart_id: Id, user: MaybeBuyer) -> CartOut:
    return cart_out(carts.get_cart(runtime.reader(), cart_id=cart_id, user_id=user))


@router.put(
    "/carts/{cart_id}/items/{variant_id}",
    response_model=CartOut,
    responses=responses(401, 404, 409, 422),
    openapi_extra=OPTIONAL_AUTH,
)
def put_cart_line(
    runtime: RuntimeDep, cart_id: Id, variant_id: Id, body: CartLineIn, user: MaybeBuyer
) -> CartOut:
    """Add or update a line. More than is available: 409 ``insufficient_inventory`` (seed 002)."""
    trace = runtime.trace(runtime.clock())
    cart = runtime.run_unit_here(
        lambda uow: carts.set_cart_line(
            uow, cart_id=cart_id, user_id=user, variant_id=variant_id,
            location_id=body.location_id, quantity=body.quantity, now=trace.now, trace=trace,
        ),
        trace,
    )
    return cart_out(cart)


@router.delete(
    "/carts/{cart_id}/items/{variant_id}",
    response_model=CartOut,
    responses=responses(401, 404, 422),
    openapi_extra=OPTIONAL_AUTH,
)
def delete_cart_line(
    runtime: RuntimeDep, cart_id: Id, variant_id: Id, user: MaybeBuyer
) -> CartOut:
    trace = runtime.trace(runtime.clock())
    cart = runtime.run_unit_here(
        lambda uow: carts.remove_cart_line(
            uow, cart_id=cart_id, user_id=user, variant_id=variant_id, now=trace.now,
            trace=trace,
        ),
        trace,
    )
    return cart_out(cart)
