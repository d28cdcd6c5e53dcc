"""Cart handlers: seeds 000 (loop: Add to cart), 002 (addOrUpdateItem) and 003 (Update Cart)."""

from __future__ import annotations

from reference_impl.domain.cart import Cart
from reference_impl.domain.errors import NotFound, UnknownVariant, ValidationFailed
from reference_impl.domain.trace import Actor, Msg
from reference_impl.service.ports import UnitOfWork
from reference_impl.service.tracing import Trace

# Each handler answers (records its reply) before it commits, so that a unit of work that
# journals the request's trace (``service.units.run_unit``) stores the whole exchange with
# the cart, in one transaction.


def create_cart(uow: UnitOfWork, *, cart_id: str, owner_id: str | None, now: float,
                trace: Trace) -> Cart:
    with uow:
        with trace.bind(cart_id).answering(Actor.BUYER, Actor.CART, Msg.CREATE_CART):
            cart = Cart(cart_id=cart_id, owner_id=owner_id, created_at=now, updated_at=now)
            uow.carts.add(cart)
        uow.commit()
    return cart


def _visible_cart(uow: UnitOfWork, cart_id: str, user_id: str | None) -> Cart:
    cart = uow.carts.get(cart_id)
    if cart is None or not cart.visible_to(user_id):
        raise NotFound(f"cart {cart_id} not found")  # I8: someone else's cart does not exist
    return cart


def get_cart(uow: UnitOfWork, *, cart_id: str, user_id: str | None) -> Cart:
    with uow:
        return _visible_cart(uow, cart_id, user_id)


def set_cart_line(
    uow: UnitOfWork,
    *,
    cart_id: str,
    user_id: str | None,
    variant_id: str,
    location_id: str,
    quantity: int,
    now: float,
    trace: Trace,
) -> Cart:
    trace = trace.bind(cart_id)
    with uow:
        with trace.answering(Actor.BUYER, Actor.CART, Msg.ADD_TO_CART):
            cart = _visible_cart(uow, cart_id, user_id)
            trace.call(Actor.CART, Actor.CATALOG, Msg.GET_VARIANT)
            variant = uow.catalog.get_variant(variant_id)
            if variant is None:
                raise UnknownVariant(f"variant {variant_id} does not exist")
            if uow.catalog.get_location(location_id) is None:
                raise ValidationFailed(f"location {location_id} does not exist")
            trace.call(Actor.CART, Actor.INVENTORY, Msg.CHECK_INVENTORY)
            level = uow.stock.get(variant_id, location_id)
            cart.set_line(variant, location_id, quantity, level.on_hand if level else 0, now)
            uow.carts.save(cart)
        uow.commit()
    return cart


def remove_cart_line(
    uow: UnitOfWork, *, cart_id: str, user_id: str | None, variant_id: str, now: float,
    trace: Trace,
) -> Cart:
    with uow:
        with trace.bind(cart_id).answering(Actor.BUYER, Actor.CART, Msg.REMOVE_FROM_CART):
            cart = _visible_cart(uow, cart_id, user_id)
            cart.remove_line(variant_id, now)
            uow.carts.save(cart)
        uow.commit()
    return cart
